"""The procedural Two4Two renderer: determinism, purity, intervention locality, planted biases."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from explainers.core.datasets import two4two


def test_sample_is_deterministic_for_a_seed_and_prefix_stable():
    a = two4two.sample(6, seed=4, size=24)
    b = two4two.sample(6, seed=4, size=24)
    c = two4two.sample(3, seed=4, size=24)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    assert np.array_equal(a[0][:3], c[0]) and a[2][:3] == c[2]
    assert not np.array_equal(a[0], two4two.sample(6, seed=5, size=24)[0])


def test_sample_returns_uint8_images_labels_and_full_records():
    images, labels, params = two4two.sample(5, seed=0, size=32)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and list(labels) == [p["label"] for p in params]
    for record in params:
        assert set(two4two.PARAMETER_NAMES) <= set(record)
        assert record["obj_name"] == two4two.CLASS_NAMES[record["label"]]


def test_render_is_pure_and_reproduces_the_sampled_image():
    images, _, params = two4two.sample(3, seed=1, size=32)
    record = dict(params[1])
    first = two4two.render(record, 32)
    assert np.array_equal(first, images[1])
    assert np.array_equal(two4two.render(record, 32), first)
    assert record == params[1]


def test_changing_the_background_changes_only_background_pixels():
    # 96 px (12.8 px per scene unit, the renderer's framing shows the whole animal): large enough that the
    # 2-pixel erosion below separates block interiors from the anti-aliased gaps between touching spheres.
    _, _, params = two4two.sample(1, seed=2, size=96)
    before = two4two.render(params[0], 96)
    after = two4two.intervene(params[0], "bg_color", 1.0 - params[0]["bg_color"], size=96)
    mask = two4two.render_mask(params[0], 96)
    inside = ndimage.binary_erosion(mask > 0, iterations=2)  # anti-aliased edges mix both
    changed = np.any(before != after.image, axis=-1)
    assert changed[mask == 0].mean() > 0.95
    assert not changed[inside].any()
    assert after.params["bg_color"] != params[0]["bg_color"]
    assert {k: v for k, v in after.params.items() if k != "bg_color"} == \
           {k: v for k, v in params[0].items() if k != "bg_color"}


def test_moving_the_arms_changes_only_pixels_near_the_right_arms():
    _, _, params = two4two.sample(4, seed=3, size=64)
    for record in params:
        moved = two4two.intervene(record, "arm_position", 1.0 - record["arm_position"], size=64)
        changed = np.any(two4two.render(record, 64) != moved.image, axis=-1)
        arms = np.isin(two4two.render_mask(record, 64), (7, 8)) | np.isin(two4two.render_mask(moved.params, 64), (7, 8))
        near_arms = ndimage.binary_dilation(arms, iterations=2)
        assert changed.sum() > 20  # the movement spans many pixels
        assert not changed[~near_arms].any()
        assert moved.params["label"] == record["label"]


def test_intervene_leaves_the_original_record_untouched():
    _, _, params = two4two.sample(1, seed=0, size=16)
    record = dict(params[0])
    two4two.intervene(params[0], "spherical", 0.5, size=16)
    assert params[0] == record


def test_study_sampler_plants_a_predictive_colour_bias_and_the_unbiased_one_does_not():
    rng = np.random.default_rng(0)
    study = [two4two.sample_parameters(rng, "study") for _ in range(3000)]
    unbiased = [two4two.sample_parameters(rng, "unbiased") for _ in range(3000)]

    def corr(records, name):
        return np.corrcoef([r[name] for r in records], [r["label"] for r in records])[0, 1]

    assert corr(study, "obj_color") > 0.3 and abs(corr(unbiased, "obj_color")) < 0.06
    assert corr(study, "spherical") > 0.3 and abs(corr(unbiased, "spherical")) < 0.06
    arms = np.array([r["arm_position"] for r in study])
    labels = np.array([r["label"] for r in study])
    assert arms[labels == 0].max() <= 0.52 and arms[labels == 1].min() >= 0.48
    yaw = np.array([r["obj_rotation_yaw"] for r in study])
    assert yaw.max() <= 0 and yaw.min() >= -np.pi  # scipy's (loc, scale) reading, as coded


def test_the_intended_symmetric_ranges_are_a_flag():
    rng = np.random.default_rng(1)
    records = [two4two.sample_parameters(rng, "study", two4two.SamplerOptions(loc_scale_as_coded=False))
               for _ in range(500)]
    assert max(r["position_x"] for r in records) > 0.4 and min(r["position_x"] for r in records) < -0.4
    assert max(r["obj_rotation_yaw"] for r in records) > 1.0


@pytest.mark.parametrize("call, message", [
    (lambda: two4two.sample(2, 0, sampler="fancy"), "unknown Two4Two sampler"),
    (lambda: two4two.sample(2, 0, size=4), "between 8 and 512"),
    (lambda: two4two.render({"arm_position": 0.5}, 16), "lacks"),
    (lambda: two4two.intervene(two4two.sample(1, 0, size=16)[2][0], "colour", 0.3, 16), "unknown Two4Two parameter"),
    (lambda: two4two.intervene(two4two.sample(1, 0, size=16)[2][0], "obj_color", 1.5, 16), r"\[0, 1\]"),
])
def test_bad_input_fails_with_a_clear_error(call, message):
    with pytest.raises(two4two.Two4TwoError, match=message):
        call()


@pytest.mark.parametrize("sampler", two4two.SAMPLERS)
def test_the_whole_animal_is_inside_the_frame(sampler):
    """Every block of every scene lies inside the camera's view, with a margin for the outline."""
    rng = np.random.default_rng(21)
    centre = np.asarray(two4two.VIEW_CENTRE)
    for _ in range(3000):
        params = two4two.sample_parameters(rng, sampler)
        points = np.concatenate([polygon for _, polygon, _ in two4two._scene_geometry(params)])
        assert np.abs(points - centre).max() < two4two.VIEW_HALF_WIDTH - 0.05
    # And in pixels: no block touches the image border.
    _, _, records = two4two.sample(200, seed=5, sampler=sampler, size=64)
    for record in records:
        mask = two4two.render_mask(record, 64)
        border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert not border.any()


def test_rendering_in_several_processes_gives_the_same_pixels():
    one, labels, _ = two4two.sample(40, 11, "study", 16)
    many, labels_many, _ = two4two.sample(40, 11, "study", 16, workers=2)
    assert np.array_equal(one, many) and np.array_equal(labels, labels_many)
