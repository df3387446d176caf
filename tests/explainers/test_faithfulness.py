"""Faithfulness of the served counterfactual cells, measured on the code path that writes the grids."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explainers.core.stimuli.faithfulness import faithfulness
from tests.explainers.test_grids import (  # noqa: F401  (shared fixtures)
    _grid_cache, _shared_grid_cache, checkpoint, make_grid, researcher, tiny_checkpoint_file)


def test_the_grid_reports_the_faithfulness_of_the_pngs_it_serves(researcher, checkpoint, settings):  # noqa: F811
    import torch
    from PIL import Image

    from explainers.core.pixels import to_tensor
    from explainers.services.checkpoints import checkpoint_load

    grid = make_grid(researcher, checkpoint, "counterfactual_interpolation")
    assert grid.is_ready, grid.error
    model = checkpoint_load(checkpoint.file).model
    targets = np.array(grid.provenance["column_targets"])
    logits = np.full((5, 5), np.nan)
    original = np.zeros((5, 5), dtype=bool)
    for cell in grid.cells.all():
        image = np.array(Image.open(Path(settings.MEDIA_ROOT) / cell.image))
        with torch.no_grad():
            served = float(model.logit(to_tensor(image[None])))
        assert cell.logit == pytest.approx(served, abs=1e-4)  # the stored logit is the served PNG's
        logits[cell.row, cell.column] = served
        original[cell.row, cell.column] = cell.is_original
    reported = grid.provenance["faithfulness"]
    generated = ~original
    assert reported["generated_cells"] == 20
    assert reported["mean_abs_error"] == pytest.approx(np.abs(logits - targets)[generated].mean(), abs=1e-4)
    ordered = logits[:, np.argsort(targets)]
    assert reported["monotone_share"] == pytest.approx(np.mean(np.all(np.diff(ordered, axis=1) > 0, axis=1)))


def test_faithfulness_counts_errors_of_generated_cells_and_monotone_rows():
    targets = np.array([2.0, 1.0, 0.0, -1.0, -2.0])  # positive on the left, as the seed shows them
    logits = np.array([[2.1, 1.0, 0.3, -1.0, -2.0],     # monotone; the original (0.3) keeps its own logit
                       [2.0, 1.0, 0.0, 1.5, -2.0]])     # not monotone: -1 target served at 1.5
    original = np.zeros_like(logits, dtype=bool)
    original[0, 2] = True
    result = faithfulness(logits, original, targets)
    assert result["generated_cells"] == 9
    assert result["mean_abs_error"] == pytest.approx((0.1 + 2.5) / 9)
    assert result["max_abs_error"] == pytest.approx(2.5)
    assert result["target_spacing"] == 1.0
    assert (result["monotone_rows"], result["rows"], result["monotone_share"]) == (1, 2, 0.5)


def test_a_column_without_a_target_takes_no_part_in_errors_or_monotony():
    """An isofactual row opens with its original in a column of its own (target NaN)."""
    targets = np.array([np.nan, 1.0, 0.0, -1.0])
    logits = np.array([[5.0, 1.0, 0.1, -1.0],    # monotone over the target columns despite the opening original
                       [-5.0, 1.0, 1.2, -1.0]])  # not monotone
    original = np.zeros_like(logits, dtype=bool)
    original[:, 0] = True
    result = faithfulness(logits, original, targets)
    assert result["generated_cells"] == 6 and result["target_spacing"] == 1.0
    assert result["mean_abs_error"] == pytest.approx((0.1 + 1.2) / 6)
    assert (result["monotone_rows"], result["rows"]) == (1, 2)


@pytest.mark.parametrize("kind", ["counterfactual", "isofactual"])
def test_every_served_row_is_monotone_and_on_target_on_the_code_path_that_writes_grids(kind, tmp_path):
    """build_logit_grid -> write_grid_files -> the PNGs read back: each generated cell's PNG re-encodes to its
    column's target (on average within 1 % of the target spacing, the served-rounding tolerance, and each cell
    within 10 %), every row is monotone,
    and the grid's tally of network evaluations includes the rounding search's passes."""
    import torch

    from explainers.core.pixels import to_tensor
    from explainers.core.stimuli.layout import GridLayout
    from explainers.core.stimuli.logit_grid import build_logit_grid
    from explainers.core.stimuli.manifest import read_png, write_grid_files
    from tests.explainers.tiny_model import tiny_images, tiny_model

    model = tiny_model(torch.float32)
    result = build_logit_grid(model, tiny_images(80, seed=4), kind=kind,
                              layout=GridLayout(rows=5, held_out=80, batch_size=64), seed=0)
    entries = [{"row": cell.row, "column": cell.column, "file": None} for cell in result.cells]
    write_grid_files(result, tmp_path, manifest={"cells": entries})
    files = {(entry["row"], entry["column"]): entry["file"] for entry in entries}
    targets = np.array([np.nan if t is None else t for t in result.targets])
    served = np.full((5, len(targets)), np.nan)
    original = np.zeros_like(served, dtype=bool)
    for cell in result.cells:
        with torch.no_grad():
            served[cell.row, cell.column] = float(model.logit(to_tensor(read_png(tmp_path / files[cell.row, cell.column])[None])))
        original[cell.row, cell.column] = cell.is_original
        assert cell.logit == pytest.approx(served[cell.row, cell.column], abs=1e-4)
    spacing = np.min(np.diff(np.sort(targets[np.isfinite(targets)])))
    generated = ~original & np.isfinite(targets)[None, :]
    errors = np.abs(served - targets)[generated]
    assert errors.mean() <= 0.01 * spacing and errors.max() <= 0.1 * spacing
    report = faithfulness(served, original, targets)
    assert report["monotone_share"] == 1.0 and report["generated_cells"] == (25 if kind == "isofactual" else 20)
    assert result.extra["faithfulness"]["max_abs_error"] == pytest.approx(report["max_abs_error"], abs=1e-4)
    evaluations = result.network_evaluations
    assert evaluations["backward"] > 0 and evaluations["forward"] >= 80 + 5 + report["generated_cells"]
    assert evaluations["inverse"] >= report["generated_cells"]


def test_the_quality_report_reads_the_served_rows_and_draws_its_figure(tmp_path):
    from explainers.core.evaluation.counterfactual_quality import (
        REGRESSED_PARAMETERS, grid_quality_report, readout_load, readout_save, train_regressors)
    from explainers.core.stimuli.layout import GridLayout
    from explainers.core.stimuli.logit_grid import build_logit_grid
    from tests.explainers.tiny_model import tiny_images, tiny_model

    model = tiny_model()
    result = build_logit_grid(model, tiny_images(120, seed=4), kind="counterfactual",
                              layout=GridLayout(rows=5, held_out=120, batch_size=64), seed=0)
    readout = train_regressors(size=16, n=80, seed=1, steps=5)
    readout_save(readout, tmp_path / "readout.pt", size=16)
    loaded, size = readout_load(tmp_path / "readout.pt")
    assert size == 16 and loaded.r2 == readout.r2
    report = grid_quality_report(result, loaded, tmp_path)
    assert set(report["change_per_logit"]) == set(REGRESSED_PARAMETERS)
    assert report["faithfulness"] == result.extra["faithfulness"]
    assert set(report["pattern"]["checks"]) == {"arm_position_largest", "colour_smaller_than_arms", "irrelevant_small"}
    assert (tmp_path / report["figure"]).stat().st_size > 1000
    (tmp_path / "readout.pt").write_bytes((tmp_path / "readout.pt").read_bytes() + b"\0")
    from explainers.core.errors import CheckpointError
    with pytest.raises(CheckpointError, match="sha256"):
        readout_load(tmp_path / "readout.pt")
