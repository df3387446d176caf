"""Procedural Two4Two: two abstract eight-block animals whose relevant and irrelevant features are known.

A Pillow/numpy re-implementation of the Two4Two generator used by the seed study
(seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.1 and appendix C; geometry and
distributions from shared/reference/explainers-reference-notes.md, "Two4Two spec"). The original renders
with Blender; here each block is a rounded square (a circle at ``spherical = 1``) drawn in 2D after an
approximate 3D pose (roll and pitch foreshorten, yaw rotates in the image plane), painted far-to-near, with
a light from the upper right. Images are supersampled and box-downscaled for anti-aliasing.

Classes (the seed's names): label 0 = Sticky (the spec's "Peaky": right arms moved inwards, the head peeks
out), label 1 = Stretchy (right arms moved outwards). ``arm_position`` is the class signal; in the study
sampler ``obj_color`` is a predictive bias and ``spherical`` a biased but not predictive one.

Everything here is pure: ``render(params, size)`` depends on nothing but its arguments, and
``sample(n, seed, ...)`` is deterministic for a seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

CLASS_NAMES = ("sticky", "stretchy")
SAMPLERS = ("study", "unbiased")

#: Continuous scene parameters of one image, in the order used by the audit.
PARAMETER_NAMES = (
    "arm_position",
    "spherical",
    "bending",
    "obj_rotation_yaw",
    "obj_rotation_pitch",
    "obj_rotation_roll",
    "position_x",
    "position_y",
    "obj_color",
    "bg_color",
)

#: The camera's view: a square of half-width VIEW_HALF_WIDTH scene units around VIEW_CENTRE. The study's
#: positions are U[-.8, 0] and yaw U[-pi, 0] (as coded, see SamplerOptions), so the animals spread around
#: (-.42, -.8) rather than the origin; over 20,000 sampled scenes of each sampler every block lay within 3.52
#: (study) and 3.64 (unbiased) units of that centre, so the whole animal is inside the frame. The
#: one-unit arm movement spans size / 7.5 pixels (about 8.5 px at 64 px).
VIEW_HALF_WIDTH = 3.75
VIEW_CENTRE = (-0.42, -0.8)
#: Bumped whenever the same parameters render to different pixels, so that cached renders are not reused.
RENDER_VERSION = 2

#: Supersampling factor before the box downscale.
SUPERSAMPLE = 4

# Block centres (image right = +y, image up = +z); the right arms get +arm_position along y.
_BLOCKS = (
    ("arm_left_top", -1.5, 1.0),
    ("arm_left_bottom", -1.5, -1.0),
    ("spine_left", -1.0, 0.0),
    ("spine_left_center", 0.0, 0.0),
    ("spine_right_center", 1.0, 0.0),
    ("spine_right", 2.0, 0.0),
    ("arm_right_top", 1.5, 1.0),
    ("arm_right_bottom", 1.5, -1.0),
)
BLOCK_NAMES = tuple(name for name, _, _ in _BLOCKS)
_MOVING_ARMS = (6, 7)

_COOLWARM_ANCHORS = np.array(
    [
        [0.230, 0.299, 0.754],
        [0.554, 0.690, 0.996],
        [0.867, 0.864, 0.863],
        [0.957, 0.598, 0.477],
        [0.706, 0.016, 0.150],
    ]
)


class Two4TwoError(ValueError):
    """An invalid scene parameter, sampler name or image size."""


def coolwarm(value: float) -> tuple[float, float, float]:
    """Matplotlib's coolwarm map, piecewise linear through its five anchors, for ``value`` in [0, 1]."""
    v = float(np.clip(value, 0.0, 1.0)) * 4.0
    low = min(int(math.floor(v)), 3)
    frac = v - low
    rgb = _COOLWARM_ANCHORS[low] * (1.0 - frac) + _COOLWARM_ANCHORS[low + 1] * frac
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


def object_rgb(obj_color: float) -> tuple[float, float, float]:
    """Object colour as in Two4Two: values above .5 are pulled towards the middle (r(v) = .5 + .9(v - .5))."""
    v = obj_color if obj_color <= 0.5 else 0.5 + 0.9 * (obj_color - 0.5)
    return coolwarm(v)


# --------------------------------------------------------------------------------------------- sampling

@dataclass(frozen=True)
class SamplerOptions:
    """How the study sampler reads the original's ``scipy.stats.uniform(a, b)`` calls.

    The original writes yaw and positions as ``uniform(-pi, pi)`` and ``uniform(-.8, .8)``; scipy reads
    these as (loc, scale), so they actually sample U[-pi, 0] and U[-.8, 0]. ``loc_scale_as_coded=True``
    (the default) reproduces what the study's images really had; False gives the intended symmetric ranges.
    """

    loc_scale_as_coded: bool = True


def _truncated_normal(rng: np.random.Generator, scale: float, bound: float) -> float:
    while True:
        value = rng.normal(0.0, scale)
        if abs(value) <= bound:
            return float(value)


def _draw_spherical_study(rng: np.random.Generator, arm: float) -> float:
    """Beta(.3, .3), redrawn to the class's half when the arms are clear; 1/3 fresh draws (biased, not predictive)."""
    value = rng.beta(0.3, 0.3)
    if arm < 0.45:
        while value > 0.5:
            value = rng.beta(0.3, 0.3)
    elif arm > 0.55:
        while value < 0.5:
            value = rng.beta(0.3, 0.3)
    if rng.random() < 0.33:
        value = rng.beta(0.3, 0.3)
    return float(value)


def _draw_color_study(rng: np.random.Generator, label: int, arm: float) -> float:
    """Colour tied to the arm position (biased and predictive), 15% fresh uniform draws."""
    if label == 1:
        value = 1.0 - rng.uniform(0.0, float(np.clip(0.25 + 2.5 * (arm - 0.5), 0.0, 1.0)))
    else:
        value = rng.uniform(0.0, float(np.clip(0.25 + 2.5 * (0.5 - arm), 0.0, 1.0)))
    if rng.random() < 0.15:
        value = rng.uniform(0.0, 1.0)
    return float(value)


def sample_parameters(rng: np.random.Generator, sampler: str = "study",
                      options: SamplerOptions = SamplerOptions()) -> dict[str, Any]:
    """Draw one scene parameter record.

    ``study``: the seed study's sampler with its planted biases. ``unbiased``: every attribute except the
    arms is drawn independently of the class (note: the original's "unbiased" config still derives colour
    from the arm position; ours does not, so that colour is truly uninformative).
    """
    if sampler not in SAMPLERS:
        raise Two4TwoError(f"unknown Two4Two sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    label = int(rng.random() < 0.5)
    arm = float(rng.uniform(0.48, 1.0) if label == 1 else rng.uniform(0.0, 0.52))
    if sampler == "study":
        spherical = _draw_spherical_study(rng, arm)
        obj_color = _draw_color_study(rng, label, arm)
    else:
        spherical = float(rng.beta(0.3, 0.3))
        obj_color = float(rng.uniform(0.0, 1.0))
    if options.loc_scale_as_coded:
        yaw = float(rng.uniform(-math.pi, 0.0))
        pos_x, pos_y = float(rng.uniform(-0.8, 0.0)), float(rng.uniform(-0.8, 0.0))
    else:
        yaw = float(rng.uniform(-math.pi, math.pi))
        pos_x, pos_y = float(rng.uniform(-0.8, 0.8)), float(rng.uniform(-0.8, 0.8))
    return {
        "label": label,
        "obj_name": CLASS_NAMES[label],
        "arm_position": arm,
        "spherical": spherical,
        "bending": _truncated_normal(rng, math.pi / 20, math.pi / 10),
        "obj_rotation_yaw": yaw,
        "obj_rotation_pitch": _truncated_normal(rng, math.pi / 8, math.pi / 6),
        "obj_rotation_roll": _truncated_normal(rng, 0.03 * math.pi / 4, 3 * 0.03 * math.pi / 4),
        "position_x": pos_x,
        "position_y": pos_y,
        "obj_color": obj_color,
        "bg_color": float(rng.uniform(0.0, 1.0)),
    }


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or not 8 <= int(size) <= 512:
        raise Two4TwoError(f"image size must be an integer between 8 and 512 pixels, got {size!r}")
    return int(size)


def sample(n: int, seed: int, sampler: str = "study", size: int = 64, *,
           options: SamplerOptions = SamplerOptions(),
           workers: int | None = None) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Draw ``n`` Two4Two images: (uint8 N×H×W×3 images, int64 labels, parameter records).

    Deterministic for (n, seed, sampler, size, options), whatever ``workers`` renders them; the first k records
    of ``sample(n, seed)`` equal ``sample(k, seed)``'s.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise Two4TwoError(f"number of images must be a non-negative integer, got {n!r}")
    size = _check_size(size)
    if sampler not in SAMPLERS:
        raise Two4TwoError(f"unknown Two4Two sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    rng = np.random.default_rng(seed)
    params = [sample_parameters(rng, sampler, options) for _ in range(int(n))]
    images = render_many(params, size, workers=workers)
    labels = np.array([record["label"] for record in params], dtype=np.int64)
    return images, labels, params


# -------------------------------------------------------------------------------------------- rendering

def _rotate(points: np.ndarray, angle: float, centre: tuple[float, float]) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    shifted = points - np.asarray(centre)
    return np.stack([c * shifted[..., 0] - s * shifted[..., 1], s * shifted[..., 0] + c * shifted[..., 1]],
                    axis=-1) + np.asarray(centre)


def _rounded_square(half: float, radius: float, per_corner: int = 8) -> np.ndarray:
    """Outline of a square of half-width ``half`` with corner radius ``radius`` (a circle when equal)."""
    inner = half - radius
    points = []
    for cx, cy, start in ((inner, inner, 0.0), (-inner, inner, 0.5 * math.pi),
                          (-inner, -inner, math.pi), (inner, -inner, 1.5 * math.pi)):
        angles = start + np.linspace(0.0, 0.5 * math.pi, per_corner)
        points.append(np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=-1))
    return np.concatenate(points)


def _validate(params: dict[str, Any]) -> None:
    missing = [name for name in PARAMETER_NAMES if name not in params]
    if missing:
        raise Two4TwoError(f"Two4Two parameter record lacks {', '.join(missing)}")
    for name in PARAMETER_NAMES:
        value = params[name]
        if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(float(value)):
            raise Two4TwoError(f"Two4Two parameter {name} must be a finite number, got {value!r}")
    for name in ("arm_position", "spherical", "obj_color", "bg_color"):
        if not 0.0 <= float(params[name]) <= 1.0:
            raise Two4TwoError(f"Two4Two parameter {name} must lie in [0, 1], got {params[name]!r}")


def _scene_geometry(params: dict[str, Any]) -> list[tuple[float, np.ndarray, int]]:
    """Per block: (depth, outline polygon in scene units after pose and placement, block index)."""
    arm = float(params["arm_position"])
    spherical = float(params["spherical"])
    bend = float(params["bending"])
    centres = np.array([[y, z] for _, y, z in _BLOCKS], dtype=np.float64)
    centres[list(_MOVING_ARMS), 0] += arm
    angles = np.zeros(len(_BLOCKS))
    # Bending: the right side turns b/2 about (0.5, 0) and its outer part a further b about (1, 0); the
    # left side mirrors this, so the spine forms an arc.
    right = centres[:, 0] > 0.5
    left = ~right
    centres[right] = _rotate(centres[right], bend / 2, (0.5, 0.0))
    angles[right] += bend / 2
    hinge_right = _rotate(np.array([1.0, 0.0]), bend / 2, (0.5, 0.0))
    outer_right = right & (np.array([y for _, y, _ in _BLOCKS]) + np.where(np.arange(8) >= 6, arm, 0) > 1.0)
    centres[outer_right] = _rotate(centres[outer_right], bend, tuple(hinge_right))
    angles[outer_right] += bend
    centres[left] = _rotate(centres[left], -bend / 2, (0.5, 0.0))
    angles[left] -= bend / 2
    hinge_left = _rotate(np.array([0.0, 0.0]), -bend / 2, (0.5, 0.0))
    outer_left = left & (np.array([y for _, y, _ in _BLOCKS]) < 0.0)
    centres[outer_left] = _rotate(centres[outer_left], -bend, tuple(hinge_left))
    angles[outer_left] -= bend

    edge = 0.8 + 0.1 * spherical
    outline = _rounded_square(edge / 2, (edge / 2) * spherical)
    roll, pitch, yaw = (float(params[k]) for k in ("obj_rotation_roll", "obj_rotation_pitch", "obj_rotation_yaw"))
    cr, sr, cp, sp = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch)

    polygons, depths = [], []
    for index in range(len(_BLOCKS)):
        points = _rotate(outline, angles[index], (0.0, 0.0)) + centres[index]
        y, z = points[:, 0], points[:, 1]
        # roll about the horizontal image axis, then pitch about the vertical one; x is depth (towards viewer)
        z_r, x_r = z * cr, z * sr
        y_p, x_p = y * cp - x_r * sp, y * sp + x_r * cp
        polygons.append(np.stack([y_p, z_r], axis=-1))
        depths.append(float(x_p.mean()))
    # Centre on the blocks that do not move with the arms, so that an arm intervention changes only the
    # pixels near the arms (the original centres the whole object, which shifts it slightly as well).
    stacked = np.concatenate([p for i, p in enumerate(polygons) if i not in _MOVING_ARMS])
    box_centre = 0.5 * (stacked.min(axis=0) + stacked.max(axis=0))
    shift = -0.5 * box_centre
    placed = []
    for index, polygon in enumerate(polygons):
        polygon = _rotate(polygon + shift, yaw, (0.0, 0.0))
        polygon = polygon + np.array([float(params["position_x"]), float(params["position_y"])])
        placed.append((depths[index], polygon, index))
    placed.sort(key=lambda item: item[0])
    return placed


def _to_pixels(polygon: np.ndarray, canvas: int) -> list[tuple[float, float]]:
    scale = canvas / (2.0 * VIEW_HALF_WIDTH)
    xs = canvas / 2.0 + (polygon[:, 0] - VIEW_CENTRE[0]) * scale
    ys = canvas / 2.0 - (polygon[:, 1] - VIEW_CENTRE[1]) * scale
    return list(zip(xs.tolist(), ys.tolist()))


def _background(size: int, bg_color: float) -> np.ndarray:
    """Flat coolwarm background, a little brighter towards the light in the upper right."""
    ramp = np.linspace(0.0, 1.0, size)
    light = 0.88 + 0.12 * 0.5 * (ramp[None, :] + ramp[::-1, None])
    return np.clip(np.asarray(coolwarm(bg_color))[None, None, :] * light[..., None], 0.0, 1.0)


def render(params: dict[str, Any], size: int = 64) -> np.ndarray:
    """Render one scene as a uint8 H×W×3 array; pure (the same record always gives the same pixels)."""
    size = _check_size(size)
    _validate(params)
    canvas = size * SUPERSAMPLE
    base = (_background(canvas, float(params["bg_color"])) * 255.0).round().astype(np.uint8)
    image = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(image)
    colour = np.asarray(object_rgb(float(params["obj_color"])))
    fill = tuple(int(round(c * 255)) for c in colour)
    outline = tuple(int(round(c * 255 * 0.55)) for c in colour)
    highlight = tuple(int(round((0.55 * c + 0.45) * 255)) for c in colour)
    line_width = max(1, canvas // 64)
    for _, polygon, _ in _scene_geometry(params):
        draw.polygon(_to_pixels(polygon, canvas), fill=fill, outline=outline, width=line_width)
        # A small highlight towards the light in the upper right gives the blocks some volume.
        centre = polygon.mean(axis=0)
        spot = centre + 0.45 * (polygon - centre) + np.array([0.12, 0.12])
        draw.polygon(_to_pixels(spot, canvas), fill=highlight)
    return np.asarray(image.reduce(SUPERSAMPLE), dtype=np.uint8)


def render_mask(params: dict[str, Any], size: int = 64) -> np.ndarray:
    """Block mask (uint8 H×W): 0 = background, 1-8 = blocks in BLOCK_NAMES order (nearest block wins)."""
    size = _check_size(size)
    _validate(params)
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    for _, polygon, index in _scene_geometry(params):
        draw.polygon(_to_pixels(polygon, size), fill=index + 1)
    return np.asarray(image, dtype=np.uint8)


@dataclass(frozen=True)
class Intervention:
    """The re-rendered image and the parameter record it was rendered from."""

    image: np.ndarray
    params: dict[str, Any]


def intervene(params: dict[str, Any], name: str, value: float, size: int = 64) -> Intervention:
    """Change one parameter of a scene and re-render it; every other parameter stays as it was.

    Changing ``arm_position`` across 0.5 does not change the label: the label is the class the scene was
    drawn from, as in the original's interventions.
    """
    if name not in PARAMETER_NAMES:
        raise Two4TwoError(f"unknown Two4Two parameter {name!r}; known: {', '.join(PARAMETER_NAMES)}")
    changed = dict(params)
    changed[name] = float(value)
    return Intervention(image=render(changed, size), params=changed)


def _render_chunk(job: tuple[list[dict[str, Any]], int]) -> np.ndarray:
    records, size = job
    return render_many(records, size)


#: Rendering processes when a caller does not say (a GPU machine's many cores render its training data fast);
#: the default 1 suits web and Celery worker processes, which must not start children.
RENDER_WORKERS_ENV = "TWO4TWO_RENDER_WORKERS"


def render_many(params: list[dict[str, Any]], size: int = 64, *, workers: int | None = None) -> np.ndarray:
    """Render a list of records into one uint8 N×H×W×3 array; ``workers`` > 1 renders chunks in that many
    processes (the same pixels: each scene depends on its record alone). Only for a process that may start
    children (a script, a management command; not a daemonic Celery worker process). ``None``: the
    ``TWO4TWO_RENDER_WORKERS`` environment variable, else 1."""
    size = _check_size(size)
    if workers is None:
        import os

        workers = max(1, int(os.environ.get(RENDER_WORKERS_ENV) or 1))
    if workers > 1 and len(params) >= 4 * workers:
        from concurrent.futures import ProcessPoolExecutor

        chunk = -(-len(params) // (4 * workers))
        jobs = [(params[start:start + chunk], size) for start in range(0, len(params), chunk)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return np.concatenate(list(pool.map(_render_chunk, jobs)))
    images = np.empty((len(params), size, size, 3), dtype=np.uint8)
    for index, record in enumerate(params):
        images[index] = render(record, size)
    return images
