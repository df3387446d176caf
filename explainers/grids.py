"""Stimulus grids of the seed user study: layout, cell selection, batched generation and rendering.

The seed (../shared/seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3, "Explanation
Presentation") shows participants a 30 × 5 image grid. Each column is a logit range, from "very confident
Stretchy" on the left to "very confident Sticky" on the right (negative logits on the left). The reference
code (explainers-reference-notes.md, "Study grids") fixes the details used here:

* column targets are [-a2, -a1, 0, a1, a2] where the a are percentiles of |logit| on held-out data
  (default 33.3 and 75); bin edges are the midpoints between targets, with ±inf at the ends;
* baseline: column j holds distinct held-out images whose logit falls in bin j, drawn without replacement
  with a seeded generator;
* counterfactual interpolation: 6 originals per bin (30 rows); each original sits in its own bin's column
  with a golden frame and the rest of its row holds its counterfactuals phi^-1(z + alpha w), with alpha
  chosen so that the logit is exactly the column target (alpha = (v - logit) / w·w);
* isofactual (seed section 2, "PCA Isosurface"): like the counterfactual grid, but each row's original is
  first moved along one principal direction of z projected orthogonal to w (sorted by explained variance).
  Such a move leaves the logit unchanged, so every column stays an isosurface at its target logit while
  the rows show how the features the model ignores vary.

Plain torch / numpy / Pillow: no Django imports. Django code calls this through explainers.services.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Registered explanation methods that can fill a grid, and the grid kind each produces.
GRID_KINDS: dict[str, str] = {
    "example_based": "baseline",
    "counterfactual_interpolation": "counterfactual",
    "isofactual": "isofactual",
    # Issue 8: ECINN counterfactual rows and ECINNh heatmaps (builder in explainers/ecinn_grids.py).
    "ecinn": "ecinn",
    "ecinn_heatmap": "ecinn_heatmap",
}

#: Colour of the frame that marks an original image (the seed's "golden frame").
GOLD = (212, 160, 23)

ProgressCallback = Callable[[float, str], None]


class GridLayoutError(ValueError):
    """An impossible grid layout (zero rows, too few held-out images in a bin, bad percentiles, ...)."""


@dataclass(frozen=True)
class GridLayout:
    """Shape of a grid and where its column targets come from.

    ``columns`` must be ``2 * len(percentiles) + 1``: one borderline column (target 0) and, on each side,
    one column per percentile of |logit|.
    """

    rows: int = 30
    columns: int = 5
    percentiles: tuple[float, ...] = (33.3, 75.0)
    held_out: int = 3000
    batch_size: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        for name in ("rows", "columns", "held_out", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise GridLayoutError(f"{name} must be a whole number, got {value!r}")
        if self.rows < 1:
            raise GridLayoutError(f"rows must be at least 1, got {self.rows}")
        if self.rows > 200:
            raise GridLayoutError(f"rows must be at most 200, got {self.rows}")
        if not self.percentiles:
            raise GridLayoutError("percentiles must name at least one percentile of |logit|")
        if any(not (0.0 < p < 100.0) or math.isnan(p) for p in self.percentiles):
            raise GridLayoutError(f"percentiles must lie strictly between 0 and 100, got {list(self.percentiles)}")
        if any(b <= a for a, b in zip(self.percentiles, self.percentiles[1:])):
            raise GridLayoutError(f"percentiles must be strictly increasing, got {list(self.percentiles)}")
        if self.columns != 2 * len(self.percentiles) + 1:
            raise GridLayoutError(
                f"columns must be 2 × number of percentiles + 1 = {2 * len(self.percentiles) + 1} "
                f"(one borderline column and one per percentile on each side), got {self.columns}"
            )
        if not 1 <= self.batch_size <= 4096:
            raise GridLayoutError(f"batch_size must be between 1 and 4096, got {self.batch_size}")
        if self.held_out < self.rows * self.columns:
            raise GridLayoutError(
                f"held_out ({self.held_out}) must be at least rows × columns = {self.rows * self.columns}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GridLayout:
        data = dict(data or {})
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise GridLayoutError(f"unknown layout key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if "percentiles" in data and "columns" not in data:
            percentiles = data["percentiles"]
            if isinstance(percentiles, (list, tuple)):
                data["columns"] = 2 * len(percentiles) + 1
        if "percentiles" in data and not isinstance(data["percentiles"], (list, tuple)):
            raise GridLayoutError(f"percentiles must be a list of numbers, got {data['percentiles']!r}")
        try:
            return cls(**data)
        except TypeError as exc:  # e.g. a string where a number belongs
            raise GridLayoutError(f"invalid layout: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["percentiles"] = list(self.percentiles)
        return data

    def originals_per_bin(self) -> int:
        return self.rows // self.columns

    def check_kind(self, kind: str) -> None:
        """Layout rules that depend on the grid kind (originals spread evenly over the bins)."""
        if kind in ("counterfactual", "isofactual") and self.rows % self.columns:
            raise GridLayoutError(
                f"a grid of kind {kind!r} puts the same number of originals in every bin, so rows ({self.rows}) must be "
                f"a multiple of columns ({self.columns}), e.g. {max(1, self.rows // self.columns) * self.columns}"
            )
        if kind in ("ecinn", "ecinn_heatmap"):  # issue 8: three columns, see explainers/ecinn_grids.py
            from explainers.ecinn_grids import check_ecinn_layout

            check_ecinn_layout(kind, self.rows, self.columns)


# --- targets, bins, labels ---------------------------------------------------------------------------


def column_targets(logits: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """[-a_k, ..., -a_1, 0, a_1, ..., a_k] with a_i the percentiles of |logit| (ascending)."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.size == 0:
        raise GridLayoutError("no held-out logits to take percentiles from")
    a = np.percentile(np.abs(logits), list(percentiles))
    return np.concatenate([-a[::-1], [0.0], a])


def bin_edges(targets: np.ndarray) -> np.ndarray:
    """Midpoints between consecutive targets, with -inf and +inf at the ends (len = columns + 1)."""
    targets = np.asarray(targets, dtype=np.float64)
    middle = (targets[:-1] + targets[1:]) / 2.0
    return np.concatenate([[-np.inf], middle, [np.inf]])


def assign_bins(logits: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Column index of each logit: bin j holds edges[j] <= logit < edges[j + 1]."""
    return np.searchsorted(edges, np.asarray(logits, dtype=np.float64), side="right") - 1


def column_labels(columns: int, left: str = "Stretchy", right: str = "Sticky") -> list[str]:
    """Human headers from left to right: "Stretchy, very confident" ... "Borderline" ... "Sticky, very confident"."""
    side = columns // 2
    if side == 1:
        levels = ["confident"]
    elif side == 2:
        levels = ["confident", "very confident"]
    else:
        levels = [f"confidence {i}/{side}" for i in range(1, side + 1)]
        levels[-1] = "very confident"
    return ([f"{left}, {levels[d - 1]}" for d in range(side, 0, -1)] + ["Borderline"]
            + [f"{right}, {levels[d - 1]}" for d in range(1, side + 1)])


def check_bin_capacity(bins: np.ndarray, needed: int, columns: int, labels: Sequence[str] | None = None) -> None:
    """Raise GridLayoutError naming every bin that holds fewer than ``needed`` held-out images."""
    counts = np.bincount(np.asarray(bins), minlength=columns)
    short = [j for j in range(columns) if counts[j] < needed]
    if short:
        names = labels or [f"column {j}" for j in range(columns)]
        detail = "; ".join(f"{names[j]!r} has {int(counts[j])}" for j in short)
        raise GridLayoutError(
            f"not enough held-out images: every column needs {needed} distinct images but {detail}. "
            f"Use fewer rows, other percentiles, or more held-out images."
        )


def draw_per_bin(bins: np.ndarray, per_bin: int, columns: int, seed: int) -> np.ndarray:
    """Indices [columns, per_bin] of distinct held-out images per bin, without replacement, seeded."""
    check_bin_capacity(bins, per_bin, columns)
    rng = np.random.default_rng(seed)
    draws = np.empty((columns, per_bin), dtype=np.int64)
    for j in range(columns):
        members = np.flatnonzero(bins == j)
        draws[j] = rng.choice(members, size=per_bin, replace=False)
    return draws


def original_rows(draws: np.ndarray) -> list[tuple[int, int]]:
    """(source index, original column) per row; rows cycle through the bins, so the originals form diagonals."""
    columns, per_bin = draws.shape
    return [(int(draws[r % columns, r // columns]), r % columns) for r in range(columns * per_bin)]


# --- cells -------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One image of a grid with what produced it."""

    row: int
    column: int
    image: np.ndarray  # H × W × 3 uint8
    logit: float
    is_original: bool
    source_index: int
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"r{self.row:03d}_c{self.column:02d}.png"


@dataclass
class GridResult:
    kind: str
    layout: GridLayout
    targets: list[float]
    edges: list[float | None]  # logit bin boundaries per column, null = unbounded
    labels: list[str]
    cells: list[Cell]
    timings: dict[str, float]
    network_evaluations: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)


# --- torch helpers -----------------------------------------------------------------------------------


def pick_device(preferred: str | None = None):
    """CUDA when available (or when asked for), CPU otherwise."""
    import torch

    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_tensor(images: np.ndarray, device):
    """uint8 N×H×W×3 → float N×3×H×W in [0, 1] on ``device``."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(x) -> np.ndarray:
    """float N×3×H×W in [0, 1] → uint8 N×H×W×3 (clamped, rounded)."""
    return (x.detach().clamp(0.0, 1.0).mul(255.0).round().to("cpu").permute(0, 2, 3, 1).numpy()).astype(np.uint8)


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def held_out_logits(model, images: np.ndarray, *, batch_size: int, device, keep_z: bool = False,
                    progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Logits (and optionally classifier features z) of ``images``, one batched forward pass each."""
    import torch

    logits, features = [], []
    n = len(images)
    with torch.no_grad():
        for part in _batches(n, batch_size):
            latent = model.encode(to_tensor(images[part], device))
            logits.append(model.logit_from_z(latent.z).double().cpu().numpy().reshape(-1))
            if keep_z:
                features.append(latent.z.double().cpu().numpy())
            if progress:
                progress(part.stop / n, "scoring held-out images")
    z = np.concatenate(features) if keep_z else None
    return np.concatenate(logits), z


def _weight(model, device):
    import torch

    w = model.weight.detach().to(device).reshape(-1)
    if not torch.isfinite(w).all() or float(w.pow(2).sum()) == 0.0:
        raise ValueError("the classifier weight vector is zero or not finite; the checkpoint cannot explain")
    return w


def isofactual_directions(z: np.ndarray, weight: np.ndarray, components: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions of z⊥ = z − (w·z / w·w) w, by explained variance, and their standard deviations.

    Seed section 2 ("PCA Isosurface"): the components of z⊥ are orthogonal to w, so moving along them keeps
    the logit constant.
    """
    w = np.asarray(weight, dtype=np.float64).reshape(-1)
    z = np.asarray(z, dtype=np.float64)
    z_perp = z - np.outer(z @ w / (w @ w), w)
    centred = z_perp - z_perp.mean(axis=0)
    # Eigen-decomposition of the D×D scatter matrix (cheaper than an SVD of the N×D data for N >> D):
    # eigenvectors are the principal directions, eigenvalues/(n-1) their variances.
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    s = np.sqrt(np.clip(eigenvalues[order], 0.0, None))
    vt = eigenvectors[:, order].T
    k = min(components, vt.shape[0])
    directions = vt[:k]
    # Remove the tiny numerical leak along w so the logit really stays put.
    directions = directions - np.outer(directions @ w / (w @ w), w)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True).clip(min=1e-12)
    std = s[:k] / math.sqrt(max(1, len(z) - 1))
    return directions, std


def counterfactual_rows(model, images: np.ndarray, targets: Sequence[float], *, batch_size: int, device,
                        shifts: np.ndarray | None = None, skip_columns: Sequence[int] | None = None,
                        progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counterfactuals of every image at every target logit: x~ = phi^-1(z + s + alpha w).

    alpha = (v − logit(z + s)) / w·w sets the logit exactly to v (seed section 2; reference notes
    "set_weight_bias_to"). ``shifts`` (R × D, orthogonal to w) move each row along an isofactual direction
    first. One forward pass per image and one inverse pass per cell, batched. Returns uint8 images
    R × C × H × W × 3, the alphas R × C and the logits of the edited features R × C. Cells in
    ``skip_columns[r]`` are left black (their original is shown instead) and cost no inverse pass.
    """
    import torch

    targets_t = torch.as_tensor(list(targets), dtype=torch.float64)
    n, height, width = len(images), images.shape[1], images.shape[2]
    columns = len(targets_t)
    out = np.zeros((n, columns, height, width, 3), dtype=np.uint8)
    alphas = np.zeros((n, columns))
    logits = np.zeros((n, columns))
    total_batches = max(1, math.ceil(n / batch_size))
    with torch.no_grad():
        w = _weight(model, device)
        w_dot_w = w.double().pow(2).sum()
        for b, part in enumerate(_batches(n, batch_size)):
            latent = model.encode(to_tensor(images[part], device))
            z = latent.z
            if shifts is not None:
                z = z + torch.as_tensor(shifts[part], dtype=z.dtype, device=z.device)
            base = model.logit_from_z(z).double().cpu().reshape(-1)
            for c in range(columns):
                alpha = (targets_t[c] - base) / w_dot_w.cpu()
                rows = np.arange(part.start, part.stop)
                needed = np.ones(len(rows), dtype=bool) if skip_columns is None else \
                    np.array([skip_columns[r] != c for r in rows])
                if not needed.any():
                    continue
                z_new = z + alpha.to(device=z.device, dtype=z.dtype)[:, None] * w.to(z.dtype)[None, :]
                decoded = to_uint8(model.decode(latent.with_z(z_new)))
                out[rows[needed], c] = decoded[needed]
                alphas[rows, c] = alpha.numpy()
                logits[rows, c] = model.logit_from_z(z_new).double().cpu().numpy().reshape(-1)
                if progress:
                    progress((b + (c + 1) / columns) / total_batches, "generating counterfactuals")
    return out, alphas, logits


# --- building the three kinds ------------------------------------------------------------------------


def build_grid(model, images: np.ndarray, *, kind: str, layout: GridLayout, seed: int,
               method_parameters: dict[str, Any] | None = None, labels: Sequence[str] | None = None,
               device=None, held_out: tuple[np.ndarray, np.ndarray | None] | None = None,
               positive_on_left: bool = False, progress: ProgressCallback | None = None) -> GridResult:
    """Build every cell of a grid of ``kind`` ("baseline", "counterfactual" or "isofactual").

    ``images`` are the held-out images (uint8 N×H×W×3); ``held_out`` may pass their precomputed
    (logits, z) to skip the scoring pass. Columns run from negative to positive logits, or the other way
    round with ``positive_on_left`` (the seed shows Stretchy on the left; which class is positive depends
    on the dataset's label convention). Progress runs from 0 to 1 over scoring and generation.
    """
    if kind in ("ecinn", "ecinn_heatmap"):  # issue 8: ECINN rows/heatmaps have their own builder
        from explainers.ecinn_grids import build_ecinn_grid

        return build_ecinn_grid(model, images, kind=kind, layout=layout, seed=seed,
                                method_parameters=method_parameters, device=device, held_out=held_out,
                                positive_on_left=positive_on_left, progress=progress, labels=labels)
    if kind not in ("baseline", "counterfactual", "isofactual"):
        raise GridLayoutError(f"unknown grid kind {kind!r}")
    layout.check_kind(kind)
    params = dict(method_parameters or {})
    device = device or pick_device()
    labels = list(labels or column_labels(layout.columns))
    report = progress or (lambda fraction, stage: None)
    timings: dict[str, float] = {}
    evaluations = {"forward": 0, "inverse": 0}
    model.eval()

    started = time.perf_counter()
    need_z = kind == "isofactual"
    if held_out is not None and (held_out[1] is not None or not need_z):
        logits, z = held_out
    else:
        logits, z = held_out_logits(model, images, batch_size=layout.batch_size, device=device, keep_z=need_z,
                                    progress=lambda f, s: report(0.3 * f, s))
        evaluations["forward"] += len(images)
    timings["score_held_out_s"] = time.perf_counter() - started
    # Work on the oriented score u = sign · logit so that column index grows from left to right; the
    # targets are symmetric, so the logit target of column c is sign · (ascending target c).
    sign = -1.0 if positive_on_left else 1.0
    targets = sign * column_targets(logits, layout.percentiles)
    edges = bin_edges(sign * targets)
    bins = assign_bins(sign * logits, edges)
    report(0.3, "selecting images")

    started = time.perf_counter()
    cells: list[Cell] = []
    extra: dict[str, Any] = {"bin_counts": np.bincount(bins, minlength=layout.columns).tolist()}
    if kind == "baseline":
        per_bin = layout.rows
        check_bin_capacity(bins, per_bin, layout.columns, labels)
        draws = draw_per_bin(bins, per_bin, layout.columns, seed)
        for c in range(layout.columns):
            for r in range(layout.rows):
                index = int(draws[c, r])
                cells.append(Cell(r, c, images[index], float(logits[index]), False, index,
                                  {**params, "real_image": True, "bin": c}))
        report(1.0, "selected real images")
    else:
        per_bin = layout.originals_per_bin()
        check_bin_capacity(bins, per_bin, layout.columns, labels)
        rows = original_rows(draw_per_bin(bins, per_bin, layout.columns, seed))
        sources = np.array([s for s, _ in rows])
        original_column = [c for _, c in rows]
        shifts = None
        row_shift: list[dict[str, Any]] = [{} for _ in rows]
        if kind == "isofactual":
            # The isofactual method's own parameters: how many principal directions, and how far along them
            # (in standard deviations). Row r uses direction r mod n and the (r div n)-th beta, cycling.
            components = int(params.get("n_components", 4))
            betas = [float(b) for b in params.get("betas", (-2.0, -1.0, 1.0, 2.0))]
            w = model.weight.detach().double().cpu().numpy().reshape(-1)
            directions, std = isofactual_directions(z, w, components)
            shifts = np.zeros((len(rows), directions.shape[1]))
            for r in range(len(rows)):
                k = r % len(directions)
                beta = betas[(r // len(directions)) % len(betas)]
                shifts[r] = beta * std[k] * directions[k]
                row_shift[r] = {"component": k, "beta": beta, "component_std": float(std[k])}
            extra["isofactual_components"] = len(directions)
        generated, alphas, cf_logits = counterfactual_rows(
            model, images[sources], targets, batch_size=layout.batch_size, device=device, shifts=shifts,
            skip_columns=original_column, progress=lambda f, s: report(0.3 + 0.7 * f, s))
        evaluations["forward"] += len(rows)
        evaluations["inverse"] += len(rows) * (layout.columns - 1)
        for r, (source, own_column) in enumerate(rows):
            for c in range(layout.columns):
                if c == own_column:
                    cells.append(Cell(r, c, images[source], float(logits[source]), True, int(source),
                                      {**params, "bin": c, "original": True}))
                else:
                    cells.append(Cell(r, c, generated[r, c], float(cf_logits[r, c]), False, int(source), {
                        **params, **row_shift[r], "target_logit": float(targets[c]),
                        "alpha": float(alphas[r, c]), "original_logit": float(logits[source]),
                    }))
    timings["generate_s"] = time.perf_counter() - started
    cells.sort(key=lambda cell: (cell.row, cell.column))
    extra["positive_on_left"] = positive_on_left
    # JSON has no infinity: an unbounded edge is null.
    edges_json = [None if not math.isfinite(e) else float(e) for e in sign * edges]
    return GridResult(kind, layout, [float(t) + 0.0 for t in targets], edges_json, labels, cells, timings,
                      evaluations, extra)


# --- rendering ---------------------------------------------------------------------------------------


def _wrap_label(label: str, width_chars: int) -> list[str]:
    """Words of a column label greedily wrapped to lines of at most ``width_chars`` characters."""
    lines: list[str] = []
    for word in label.replace(",", "").split():
        if lines and len(lines[-1]) + 1 + len(word) <= width_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def render_composite(cells: Sequence[Cell], *, rows: int, columns: int, labels: Sequence[str],
                     scale: int = 2, gap: int = 6, frame: int = 3, line_height: int = 12):
    """One PNG-ready Pillow image of the whole grid: headers on top, golden frames around originals."""
    from PIL import Image, ImageDraw

    height, width = cells[0].image.shape[:2]
    cw, ch = width * scale, height * scale
    # Pillow's default bitmap font is about 6 px per character: wrap whole words instead of cutting them.
    wrapped = [_wrap_label(label, max(4, cw // 6)) for label in labels]
    header = 6 + line_height * max((len(lines) for lines in wrapped), default=1)
    canvas = Image.new("RGB", (gap + columns * (cw + gap), header + gap + rows * (ch + gap)), "white")
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(wrapped):
        x = gap + c * (cw + gap)
        for line_number, line in enumerate(lines):
            draw.text((x, 3 + line_height * line_number), line, fill=(20, 20, 20))
    for cell in cells:
        x = gap + cell.column * (cw + gap)
        y = header + gap + cell.row * (ch + gap)
        canvas.paste(Image.fromarray(cell.image).resize((cw, ch), Image.NEAREST), (x, y))
        if cell.is_original:
            for i in range(frame):
                draw.rectangle([x - 1 - i, y - 1 - i, x + cw + i, y + ch + i], outline=GOLD)
    return canvas


def write_grid_files(result: GridResult, directory: Path, *, manifest: dict[str, Any],
                     progress: ProgressCallback | None = None) -> dict[str, float]:
    """Write one PNG per cell, composite.png and manifest.json into ``directory`` (which must exist)."""
    from PIL import Image

    started = time.perf_counter()
    directory = Path(directory)
    for i, cell in enumerate(result.cells):
        Image.fromarray(cell.image).save(directory / cell.filename, optimize=False, compress_level=6)
        if progress and (i % 10 == 0 or i == len(result.cells) - 1):
            progress((i + 1) / len(result.cells), "writing cell images")
    cells_s = time.perf_counter() - started
    started = time.perf_counter()
    render_composite(result.cells, rows=result.layout.rows, columns=result.layout.columns,
                     labels=result.labels).save(directory / "composite.png")
    composite_s = time.perf_counter() - started
    timings = {"write_cells_s": cells_s, "write_composite_s": composite_s}
    full_manifest = {**manifest, "timings": {**result.timings, **timings, **manifest.get("timings", {})}}
    with open(directory / "manifest.json", "w", encoding="utf-8") as handle:
        json.dump(full_manifest, handle, indent=2, sort_keys=True, default=_json_default)
        handle.flush()
    return timings


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
