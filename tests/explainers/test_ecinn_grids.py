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
