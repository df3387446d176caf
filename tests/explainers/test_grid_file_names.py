"""Grid cell files are content-addressed: the name is the start of the SHA-256 of the file's bytes, a cell
stores that name, identical cells share one file, and the image decodes exactly."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from explainers.core.stimuli.layout import Cell, GridLayout, GridResult
from explainers.core.stimuli.manifest import CONTENT_NAME_HEX, read_png, write_grid_files


def _result(rows: int = 2, columns: int = 3, duplicate: bool = True) -> GridResult:
    rng = np.random.default_rng(0)
    cells = []
    for row in range(rows):
        for column in range(columns):
            image = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            cells.append(Cell(row=row, column=column, image=image, logit=float(column), is_original=column == 1,
                              source_index=row))
    if duplicate:  # two cells showing the same picture (an original repeated elsewhere, say)
        cells[-1].image = cells[0].image.copy()
    layout = GridLayout(rows=rows, columns=columns, percentiles=(50.0,), held_out=10)
    return GridResult(kind="baseline", layout=layout, targets=[0.0] * columns, edges=[None] * (columns + 1),
                      labels=[f"c{j}" for j in range(columns)], cells=cells, timings={}, network_evaluations={})


def _manifest(result: GridResult) -> dict:
    return {"cells": [{"row": c.row, "column": c.column, "file": c.filename} for c in result.cells]}


def test_cell_files_are_named_by_the_hash_of_their_bytes(tmp_path):
    result = _result()
    manifest = _manifest(result)
    write_grid_files(result, tmp_path, manifest=manifest)
    names = [entry["file"] for entry in manifest["cells"]]
    for name, cell in zip(names, result.cells):
        data = (tmp_path / name).read_bytes()
        assert name == hashlib.sha256(data).hexdigest()[:CONTENT_NAME_HEX] + ".png"
        assert np.array_equal(read_png(tmp_path / name), cell.image)  # lossless: the scored pixels
    assert names[-1] == names[0] and len(set(names)) == len(names) - 1  # identical cells share one file
    pngs = sorted(p.name for p in tmp_path.glob("*.png") if p.name != "composite.png")
    assert pngs == sorted(set(names))
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert [entry["file"] for entry in on_disk["cells"]] == names


def test_different_images_get_different_names_and_the_same_image_the_same_name(tmp_path):
    first, second = _result(duplicate=False), _result(duplicate=False)
    second.cells[0].image = 255 - second.cells[0].image
    a, b = _manifest(first), _manifest(second)
    for name, result, manifest in (("a", first, a), ("b", second, b)):
        (tmp_path / name).mkdir()
        write_grid_files(result, tmp_path / name, manifest=manifest)
    assert a["cells"][0]["file"] != b["cells"][0]["file"]
    assert [e["file"] for e in a["cells"][1:]] == [e["file"] for e in b["cells"][1:]]


@pytest.mark.django_db
def test_published_cells_store_their_content_addressed_file(settings, tmp_path, django_user_model):
    from explainers.models import Checkpoint, GridCell, StimulusGrid
    from explainers.services.grid_generation import grid_publish

    settings.MEDIA_ROOT = tmp_path / "media"
    owner = django_user_model.objects.create_user("ada")
    checkpoint = Checkpoint.objects.create(owner=owner, name="unused", file="unused.pt", sha256="0" * 64)
    grid = StimulusGrid.objects.create(owner=owner, name="g", checkpoint=checkpoint,
                                       method="counterfactual_interpolation", status=StimulusGrid.Status.RUNNING)
    result = _result()
    manifest = {**_manifest(result), "grid": {"kind": "baseline"}, "image_size": 8}
    tmp = tmp_path / "media" / "grids" / ".tmp-build"
    tmp.mkdir(parents=True)
    write_grid_files(result, tmp, manifest=manifest)
    grid = grid_publish(grid.pk, tmp, result, manifest, {})
    cells = list(GridCell.objects.filter(grid=grid).order_by("row", "column"))
    assert len(cells) == len(result.cells)
    for cell, source in zip(cells, result.cells):
        path = Path(settings.MEDIA_ROOT) / cell.image
        assert cell.image.startswith(grid.directory + "/")
        assert path.name == hashlib.sha256(path.read_bytes()).hexdigest()[:CONTENT_NAME_HEX] + ".png"
        assert np.array_equal(read_png(path), source.image)
