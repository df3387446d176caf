"""ECINN stimulus grids: pregenerated through grid_pregenerate (eager) with the method in the manifest."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from django.core.exceptions import ValidationError

from explainers.models import StimulusGrid

LAYOUT = {"rows": 3, "columns": 3, "percentiles": [50], "held_out": 120, "batch_size": 64}


@pytest.fixture(scope="session")
def ibinn_two4two_file(tmp_path_factory) -> Path:
    from explainers.core.training.ibinn import ibinn_preset
    from explainers.core.training.run import train_to_checkpoint as ibinn_train_to_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path = tmp_path_factory.mktemp("ibinn") / "two4two.pt"
        ibinn_train_to_checkpoint(ibinn_preset("two4two-quick", steps=20, val_size=120), path)
    finally:
        torch.set_num_threads(threads)
    return path


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user("ecinn", password="pw-ecinn-123456")


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["ecinn", "ecinn_heatmap"])
def test_ecinn_grid_pregenerates_to_ready(method, researcher, ibinn_two4two_file, settings):
    from explainers.services.checkpoints import checkpoint_register
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    checkpoint = checkpoint_register(path=ibinn_two4two_file, name="ibinn", owner=researcher)
    assert checkpoint.architecture == "ibinn"
    grid = grid_create(owner=researcher, checkpoint=checkpoint, method=method, layout=LAYOUT, enqueue=False)
    grid = grid_pregenerate(grid.pk)
    assert grid.status == StimulusGrid.Status.READY, grid.error
    assert grid.cells.count() == 9 and grid.cells.filter(is_original=True).count() == 3
    manifest = json.loads((Path(settings.MEDIA_ROOT) / grid.directory / "manifest.json").read_text())
    assert manifest["grid"]["method"] == method and manifest["grid"]["kind"] == method
    assert grid.column_labels[0] == "Original" and "α1" in grid.column_labels[2]
    cell = grid.cells.get(row=0, column=2)
    assert cell.parameters["alpha_name"] == "alpha1"
    assert cell.parameters["alpha"] == pytest.approx(0.8 + cell.parameters["alpha0"] / 2)
    assert cell.parameters["target_class"] != cell.parameters["predicted_class"]
    assert manifest["network_evaluations"]["inverse"] == 6


@pytest.mark.django_db
def test_ecinn_grid_configuration_errors(researcher, ibinn_two4two_file, tmp_path):
    from explainers.services.checkpoints import checkpoint_register
    from explainers.services.grids import grid_create

    checkpoint = checkpoint_register(path=ibinn_two4two_file, name="ibinn", owner=researcher)
    with pytest.raises(ValidationError, match="three columns"):
        grid_create(owner=researcher, checkpoint=checkpoint, method="ecinn", layout={"rows": 5}, enqueue=False)
    glow_like = type(checkpoint).objects.create(name="glow", architecture="glow_linear", file=str(ibinn_two4two_file),
                                                sha256=checkpoint.sha256, owner=researcher)
    with pytest.raises(ValidationError, match="class-conditional latents"):
        grid_create(owner=researcher, checkpoint=glow_like, method="ecinn", layout=LAYOUT, enqueue=False)
    assert not StimulusGrid.objects.exists()


# ------------------------------------------------------------------ the configured parameters are honoured

def _core_grid(path, kind, parameters, rows=3):
    from explainers.core.datasets import two4two
    from explainers.core.stimuli.ecinn_grid import build_ecinn_grid
    from explainers.core.stimuli.layout import GridLayout
    from explainers.core.training.checkpoints import checkpoint_read

    loaded = checkpoint_read(path)
    images, _, _ = two4two.sample(120, 5, "study", loaded.model.config.image_size)
    layout = GridLayout.from_dict({**LAYOUT, "rows": rows})
    return build_ecinn_grid(loaded.model.double(), images, kind=kind, layout=layout, seed=0,
                            method_parameters=parameters, device="cpu")


def _cells(result, column):
    return [cell for cell in result.cells if cell.column == column]


def test_the_heatmap_grid_shows_the_configured_alpha(ibinn_two4two_file):
    import numpy as np

    at = {alpha: _core_grid(ibinn_two4two_file, "ecinn_heatmap", {"target_classes": (), "alpha": alpha})
          for alpha in ("alpha0", "alpha1")}
    assert at["alpha0"].labels[1:] == ["Counterfactual at α0", "Change |x̂ − x| at α0"]
    for alpha, result in at.items():
        assert {cell.parameters["alpha_name"] for cell in result.cells if not cell.is_original} == {alpha}
    first = [cell.image for cell in _cells(at["alpha0"], 1)]
    second = [cell.image for cell in _cells(at["alpha1"], 1)]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))  # alpha changes the output


def test_target_classes_restrict_the_rows_to_images_predicted_otherwise(ibinn_two4two_file):
    result = _core_grid(ibinn_two4two_file, "ecinn", {"target_classes": (1,)}, rows=6)
    generated = [cell for cell in result.cells if not cell.is_original]
    assert len(_cells(result, 0)) == 6
    assert {cell.parameters["target_class"] for cell in generated} == {1}
    assert {cell.parameters["predicted_class"] for cell in generated} == {0}
    free = _core_grid(ibinn_two4two_file, "ecinn", {"target_classes": ()}, rows=6)
    assert {cell.parameters["target_class"] for cell in free.cells if not cell.is_original} == {0, 1}


def test_one_heatmap_scale_serves_every_row_and_is_recorded(ibinn_two4two_file):
    result = _core_grid(ibinn_two4two_file, "ecinn_heatmap", {"target_classes": (), "alpha": "alpha1"}, rows=6)
    heatmaps = _cells(result, 2)
    scales = {cell.parameters["heatmap_scale"] for cell in heatmaps}
    assert len(scales) == 1 and result.extra["heatmap_scale"] == scales.pop() > 0
    # the row with the largest change reaches the end of the colour map; the others stay below it
    reds = [int(cell.image[..., 1].min()) for cell in heatmaps]  # green falls as red deepens on RdBu_r
    assert min(reds) < max(reds)
