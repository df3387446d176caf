"""Stimulus grid services: the three grid kinds on a real tiny Glow, atomic publish, failures, bad input."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from explainers.models import GridCell, StimulusGrid

SMALL = {"rows": 5, "held_out": 200, "batch_size": 64}


def train_tiny_checkpoint(path: Path) -> Path:
    """A real GlowClassifier checkpoint at 16 px after a few dozen steps (accuracy is irrelevant here)."""
    import torch

    from explainers.core.nets.glow import GlowConfig
    from explainers.core.training.glow import preset
    from explainers.core.training.run import train_to_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = preset("quick", image_size=16, steps=30, train_size=192, val_size=200, eval_every=1000,
                        warmup_steps=5)
        config = replace(config, net=GlowConfig(image_size=16, levels=2, steps_per_level=1, hidden_channels=8,
                                                head_steps=0))
        train_to_checkpoint(config, path)
    finally:
        torch.set_num_threads(threads)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint_file(tmp_path_factory) -> Path:
    return train_tiny_checkpoint(tmp_path_factory.mktemp("grid-checkpoint") / "tiny.pt")


@pytest.fixture(scope="session")
def _grid_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("grid-cache")


@pytest.fixture(autouse=True)
def _shared_grid_cache(settings, _grid_cache):
    """Held-out images and logits depend only on the checkpoint: render and score them once per session."""
    settings.GRID_CACHE_DIR = _grid_cache


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user("ada")  # no password: skips the deliberately slow hashing


@pytest.fixture
def checkpoint(db, researcher, tiny_checkpoint_file):
    from explainers.services.checkpoints import checkpoint_register

    return checkpoint_register(path=tiny_checkpoint_file, name="tiny", owner=researcher)


def make_grid(researcher, checkpoint, method, **layout) -> StimulusGrid:
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method=method, layout={**SMALL, **layout},
                       enqueue=False)
    return grid_pregenerate(grid.pk)


def held_out_logits(checkpoint, count=200):
    from explainers.services.checkpoints import checkpoint_load
    from explainers.services.held_out import held_out_logits as cached_logits

    _, logits, _ = cached_logits(checkpoint_load(checkpoint.file), count, batch_size=SMALL["batch_size"])
    return logits


# --- the three grid kinds on a real (tiny) invertible classifier -------------------------------------


def test_baseline_fills_each_column_with_distinct_held_out_images_of_its_bin(researcher, checkpoint, settings):
    grid = make_grid(researcher, checkpoint, "example_based")
    assert grid.status == StimulusGrid.Status.READY, grid.error
    assert grid.progress == 100
    cells = list(grid.cells.all())
    assert len(cells) == 25
    assert len({cell.source_index for cell in cells}) == 25  # without replacement
    for cell in cells:
        assert not cell.is_original and cell.parameters["real_image"]
    # The two-class convention: Stretchy (label 1, positive logit) is on the left.
    assert grid.column_labels[0] == "Stretchy, very confident"
    assert all(cell.logit > 0 for cell in cells if cell.column == 0)
    assert all(cell.logit < 0 for cell in cells if cell.column == 4)
    folder = Path(settings.MEDIA_ROOT) / grid.directory
    assert all((Path(settings.MEDIA_ROOT) / cell.image).is_file() for cell in cells)
    assert (folder / "composite.png").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["checkpoint"]["sha256"] == checkpoint.sha256
    assert manifest["dataset"]["seed"] == 0 and manifest["dataset"]["held_out"] == 200
    assert manifest["grid"]["method"] == "example_based" and manifest["device"] == "cpu"
    assert manifest["code_version"] and manifest["timings"]["generate_s"] >= 0
    assert len(manifest["cells"]) == 25


def test_baseline_bins_match_the_logits(researcher, checkpoint):
    grid = make_grid(researcher, checkpoint, "example_based")
    targets = grid.provenance["column_targets"]
    for cell in grid.cells.all():
        nearest = int(np.argmin([abs(cell.logit - t) for t in targets]))
        assert nearest == cell.column  # bins are delimited by the midpoints between targets


def test_counterfactual_rows_keep_their_original_and_hit_every_target(researcher, checkpoint):
    grid = make_grid(researcher, checkpoint, "counterfactual_interpolation")
    assert grid.status == StimulusGrid.Status.READY, grid.error
    targets = grid.provenance["column_targets"]
    for row in range(5):
        cells = list(grid.cells.filter(row=row).order_by("column"))
        originals = [cell for cell in cells if cell.is_original]
        assert len(originals) == 1 and originals[0].column == row % 5  # one per row, on the diagonal
        assert len({cell.source_index for cell in cells}) == 1
        original_bin = int(np.argmin([abs(originals[0].logit - t) for t in targets]))
        assert original_bin == originals[0].column
        spacing = min(np.diff(sorted(targets)))
        for cell in cells:
            if not cell.is_original:
                # The stored logit is that of the 8-bit image shown, within 10 % of the spacing of the targets;
                # the latent it was decoded from is recorded (its target corrected only where rounding alone
                # could not reach the column's target).
                assert cell.parameters["target_logit"] == pytest.approx(targets[cell.column])
                assert abs(cell.logit - targets[cell.column]) <= 0.1 * spacing
                assert {"alpha", "latent_logit", "rounding_flips"} <= set(cell.parameters)


def test_counterfactual_images_decode_to_the_target_logit(researcher, checkpoint, settings):
    """The seed's claim: phi^-1(z + alpha w) has exactly the set logit (up to 8-bit rounding of the PNG)."""
    import torch
    from PIL import Image

    from explainers.core.pixels import to_tensor
    from explainers.services.checkpoints import checkpoint_load

    grid = make_grid(researcher, checkpoint, "counterfactual_interpolation")
    model = checkpoint_load(checkpoint.file).model
    cells = [cell for cell in grid.cells.all() if not cell.is_original]
    images = np.stack([np.asarray(Image.open(Path(settings.MEDIA_ROOT) / cell.image)) for cell in cells])
    with torch.no_grad():
        reencoded = model.logit(to_tensor(images)).numpy()
    targets = np.array([cell.parameters["target_logit"] for cell in cells])
    spacing = min(np.diff(sorted(set(targets.tolist()))))
    assert np.abs(reencoded - targets).max() <= 0.1 * spacing
    # The stored logit is the logit of exactly the PNG a participant sees.
    np.testing.assert_allclose([cell.logit for cell in cells], reencoded, rtol=0, atol=1e-4)


def test_isofactual_rows_open_with_their_original_and_each_column_shares_one_logit(researcher, checkpoint):
    """The seed's Figure 7a: each isosurface row starts from its original (golden frame, a column of its own,
    no logit target), then the shifted original at every column target."""
    grid = make_grid(researcher, checkpoint, "isofactual")
    assert grid.status == StimulusGrid.Status.READY, grid.error
    targets = grid.provenance["column_targets"]
    assert targets[0] is None and grid.column_labels[0] == "Original" and len(grid.column_labels) == 6
    spacing = min(np.diff(sorted(targets[1:])))
    for row in range(5):
        cells = list(grid.cells.filter(row=row).order_by("column"))
        assert [cell.column for cell in cells] == list(range(6))
        assert cells[0].is_original and not any(cell.is_original for cell in cells[1:])
        assert len({cell.source_index for cell in cells}) == 1
        for cell in cells[1:]:
            assert abs(cell.logit - targets[cell.column]) <= 0.1 * spacing
    generated = [cell for cell in grid.cells.all() if not cell.is_original]
    assert {cell.parameters["component"] for cell in generated} == {0, 1, 2, 3}
    assert grid.provenance["faithfulness"]["generated_cells"] == 25


def test_progress_rises_to_100(researcher, checkpoint):
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="counterfactual_interpolation",
                       layout=SMALL, enqueue=False)
    seen: list[int] = []
    grid = grid_pregenerate(grid.pk, progress=lambda percent, stage: seen.append(percent))
    assert seen == sorted(seen) and seen[0] < 20 and len(seen) >= 3
    assert grid.progress == 100


# --- idempotence and atomic publish ------------------------------------------------------------------


def test_running_it_again_changes_nothing(researcher, checkpoint):
    from explainers.services.grid_generation import grid_pregenerate

    grid = make_grid(researcher, checkpoint, "example_based")
    again = grid_pregenerate(grid.pk)
    assert again.directory == grid.directory and again.cells.count() == 25


def test_an_interrupted_run_is_cleaned_up_and_completed(researcher, checkpoint, settings):
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL,
                       enqueue=False)
    root = Path(settings.MEDIA_ROOT) / "grids"
    (root / f".tmp-{grid.pk}-killed").mkdir(parents=True)  # what a SIGKILLed worker leaves behind
    (root / str(grid.pk) / "unpublished").mkdir(parents=True)
    StimulusGrid.objects.filter(pk=grid.pk).update(status=StimulusGrid.Status.RUNNING, progress=40)
    grid = grid_pregenerate(grid.pk)
    assert grid.is_ready
    assert sorted(p.name for p in root.iterdir()) == [str(grid.pk)]
    assert [p.name for p in (root / str(grid.pk)).iterdir()] == [grid.directory.rsplit("/", 1)[1]]


def test_a_corrupt_checkpoint_fails_the_grid_readably_and_leaves_no_files(researcher, checkpoint, settings,
                                                                          tmp_path):
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    copy = tmp_path / "copy.pt"
    copy.write_bytes(Path(checkpoint.file).read_bytes())
    checkpoint.file = str(copy)
    checkpoint.save()
    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL,
                       enqueue=False)
    copy.write_bytes(copy.read_bytes()[:1000])  # truncated after configuration
    grid = grid_pregenerate(grid.pk)
    assert grid.status == StimulusGrid.Status.FAILED
    assert "checkpoint" in grid.error.lower() and "Traceback" not in grid.error
    assert not GridCell.objects.filter(grid=grid).exists() and grid.directory == ""
    assert list((Path(settings.MEDIA_ROOT) / "grids").iterdir()) == []


def test_out_of_memory_fails_the_grid_with_advice(researcher, checkpoint, settings, monkeypatch):
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="counterfactual_interpolation",
                       layout=SMALL, enqueue=False)

    def exhausted(*args, **kwargs):
        raise MemoryError()

    from explainers.core.methods.counterfactual_interpolation import CounterfactualInterpolation

    monkeypatch.setattr(CounterfactualInterpolation, "explain", exhausted)
    grid = grid_pregenerate(grid.pk)
    assert grid.status == StimulusGrid.Status.FAILED
    assert "Out of memory on cpu" in grid.error and "batch_size" in grid.error
    assert list((Path(settings.MEDIA_ROOT) / "grids").iterdir()) == []


def test_a_failing_publish_leaves_the_grid_unpublished(researcher, checkpoint, settings, monkeypatch):
    from explainers.services.grid_generation import grid_pregenerate
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL,
                       enqueue=False)

    def broken_bulk_create(*args, **kwargs):
        raise RuntimeError("disk full while writing cells")

    monkeypatch.setattr(GridCell.objects, "bulk_create", broken_bulk_create)
    grid = grid_pregenerate(grid.pk)
    assert grid.status == StimulusGrid.Status.FAILED and "disk full" in grid.error
    assert not grid.is_ready and grid.directory == ""
    leftovers = [p for p in (Path(settings.MEDIA_ROOT) / "grids").rglob("*") if p.is_file()]
    assert leftovers == []


# --- bad input at configuration time -----------------------------------------------------------------


@pytest.mark.parametrize("method, parameters, layout, field, message", [
    ("counterfactual_interpolation", {}, {"rows": 0}, "layout", "rows must be at least 1"),
    ("counterfactual_interpolation", {}, {**SMALL, "rows": 7}, "layout", "multiple of columns"),
    ("example_based", {}, {**SMALL, "percentiles": [1, 2]}, "layout", "not enough held-out images"),
    ("no_such_method", {}, SMALL, "method", "unknown explanation method"),
    ("saliency", {}, SMALL, "method", "cannot fill a stimulus grid"),
    ("isofactual", {"n_components": 0}, SMALL, "parameters", "n_components"),
    ("counterfactual_interpolation", {"target_logits": [1.0]}, SMALL, "parameters", "sets target_logits itself"),
    ("counterfactual_interpolation", [1, 2], SMALL, "parameters", "JSON object"),
])
def test_bad_configurations_are_refused_and_nothing_is_stored(researcher, checkpoint, method, parameters,
                                                              layout, field, message):
    from explainers.services.grids import grid_create

    with pytest.raises(ValidationError) as caught:
        grid_create(owner=researcher, checkpoint=checkpoint, method=method, parameters=parameters, layout=layout)
    assert field in caught.value.message_dict
    assert message in " ".join(caught.value.message_dict[field])
    assert not StimulusGrid.objects.exists()


def test_a_foreign_checkpoint_is_refused(checkpoint, django_user_model):
    from explainers.services.grids import grid_create

    stranger = django_user_model.objects.create_user("mallory")
    with pytest.raises(ValidationError, match="another researcher"):
        grid_create(owner=stranger, checkpoint=checkpoint, method="example_based", layout=SMALL)
    assert not StimulusGrid.objects.exists()


def test_an_unready_checkpoint_is_refused(researcher, checkpoint, tmp_path):
    from explainers.services.grids import grid_create

    checkpoint.file = str(tmp_path / "missing.pt")
    checkpoint.save()
    with pytest.raises(ValidationError, match="not ready"):
        grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL)
    assert not StimulusGrid.objects.exists()


# --- the Celery task ---------------------------------------------------------------------------------


def test_the_task_is_routed_to_the_gpu_queue_and_acks_late():
    from explainers.tasks import pregenerate_grid

    assert pregenerate_grid.name == "explainers.tasks.pregenerate_grid"
    from studyserver.celery import app

    assert app.amqp.router.route({}, pregenerate_grid.name)["queue"].name == "gpu"
    assert pregenerate_grid.acks_late and pregenerate_grid.reject_on_worker_lost
    assert pregenerate_grid.max_retries >= 1


def test_creating_a_grid_enqueues_it_after_commit(researcher, checkpoint, django_capture_on_commit_callbacks):
    from explainers.services.grids import grid_create

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL)
    assert len(callbacks) == 1
    grid.refresh_from_db()
    assert grid.is_ready and grid.task_id


def test_the_task_retries_on_a_transient_database_error(researcher, checkpoint, monkeypatch):
    from celery.exceptions import Retry
    from django.db import OperationalError

    from explainers import tasks
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL,
                       enqueue=False)

    def database_gone(grid_id, progress=None):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "grid_pregenerate", database_gone)
    with pytest.raises((Retry, OperationalError)):
        tasks.pregenerate_grid.apply(args=[grid.pk], throw=True).get()
