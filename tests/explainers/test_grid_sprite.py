"""A grid's sprite: every served cell's pixels in one content-addressed PNG, drawn by the participant page.

The participant page of the seed study shows 150 cells; drawn from one sprite it costs one image request
instead of 150 (issue 19). What participants see must stay what was scored (issue 12): the sprite holds each
cell's PNG pixels exactly, and the page's background positions point at the right cell.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from explainers.core.stimuli.layout import Cell, GridLayout, GridResult
from explainers.core.stimuli.manifest import (SPRITE_MAX_SIDE, SPRITE_PAD, build_sprite, read_png, sprite_cell,
                                              write_grid_files)
from tests.explainers.test_grids import (  # noqa: F401  (shared fixtures)
    _grid_cache, _shared_grid_cache, checkpoint, make_grid, researcher, tiny_checkpoint_file)


def _cells(rows: int, columns: int, shape=(8, 8, 3), seed: int = 0) -> list[Cell]:
    rng = np.random.default_rng(seed)
    return [Cell(row=r, column=c, image=rng.integers(0, 256, size=shape, dtype=np.uint8), logit=float(c),
                 is_original=c == 0, source_index=r) for r in range(rows) for c in range(columns)]


def test_the_sprite_holds_every_cell_exactly_with_its_edges_repeated_around_it():
    cells = _cells(3, 4)
    sprite, geometry = build_sprite(cells)
    slot = 8 + 2 * SPRITE_PAD
    assert geometry == {"cell": 8, "pad": SPRITE_PAD, "slot": slot, "width": 4 * slot, "height": 3 * slot}
    assert sprite.shape == (3 * slot, 4 * slot, 3) and sprite.dtype == np.uint8
    for cell in cells:
        assert np.array_equal(sprite_cell(sprite, geometry, cell.row, cell.column), cell.image)
        top, left = cell.row * slot, cell.column * slot
        # The padding repeats the cell's own border (no neighbour bleeds in when a browser scales it).
        assert np.array_equal(sprite[top, left + 1:left + 9], cell.image[0])
        assert np.array_equal(sprite[top + 1:top + 9, left + slot - 1], cell.image[:, -1])


def test_ragged_rows_and_greyscale_cells_are_placed_by_row_and_column():
    cells = _cells(2, 3, shape=(6, 6))
    cells.append(Cell(row=2, column=0, image=np.full((6, 6), 7, np.uint8), logit=0.0, is_original=True,
                      source_index=2))  # the isofactual original on a row of its own
    sprite, geometry = build_sprite(cells)
    assert sprite.shape == (3 * geometry["slot"], 3 * geometry["slot"])
    assert (sprite_cell(sprite, geometry, 2, 0) == 7).all()
    assert (sprite_cell(sprite, geometry, 2, 2) == 0).all()  # no cell there: left empty


def test_no_sprite_for_mixed_sizes_no_cells_or_a_too_large_sheet():
    mixed = _cells(1, 2) + [Cell(row=1, column=0, image=np.zeros((9, 9, 3), np.uint8), logit=0.0,
                                 is_original=False, source_index=1)]
    assert build_sprite(mixed) is None
    assert build_sprite([]) is None
    tall = [Cell(row=SPRITE_MAX_SIDE // 10, column=0, image=np.zeros((8, 8, 3), np.uint8), logit=0.0,
                 is_original=False, source_index=0)]
    assert build_sprite(tall) is None


def test_the_sprite_is_written_only_when_asked_and_recorded_in_the_manifest(tmp_path):
    cells = _cells(2, 3)
    result = GridResult(kind="baseline", layout=GridLayout(rows=2, columns=3, percentiles=(50.0,), held_out=10),
                        targets=[0.0, 1.0, 2.0], edges=[None] * 4, labels=["a", "b", "c"], cells=cells, timings={},
                        network_evaluations={})
    (tmp_path / "plain").mkdir()
    (tmp_path / "sprite").mkdir()
    plain, with_sprite = {}, {}
    write_grid_files(result, tmp_path / "plain", manifest=plain)
    write_grid_files(result, tmp_path / "sprite", manifest=with_sprite, sprite=True)
    assert "sprite" not in plain
    info = with_sprite["sprite"]
    assert re.fullmatch(r"[0-9a-f]{20}\.png", info["file"])  # content-addressed like the cells
    written = read_png(tmp_path / "sprite" / info["file"])
    assert np.array_equal(written, build_sprite(cells)[0])
    assert len(list((tmp_path / "sprite").glob("*.png"))) == len(list((tmp_path / "plain").glob("*.png"))) + 1


@pytest.mark.django_db
def test_a_built_grid_serves_each_cell_from_the_sprite_exactly_as_its_own_file(researcher, checkpoint, settings,  # noqa: F811
                                                                               client):
    from django.template import engines

    grid = make_grid(researcher, checkpoint, "counterfactual_interpolation")
    assert grid.is_ready, grid.error
    sprite_info = grid.provenance["sprite"]
    assert sprite_info["file"].startswith(grid.directory + "/")
    media = Path(settings.MEDIA_ROOT)
    sprite = read_png(media / sprite_info["file"])
    cells = list(grid.cells.all())
    assert len(cells) == 25
    for cell in cells:  # the pixels participants see are the pixels that were scored and stored
        assert np.array_equal(sprite_cell(sprite, sprite_info, cell.row, cell.column), read_png(media / cell.image))

    # The page draws each cell from the sprite at the right place, whatever size the cell is shown at.
    html = engines["django"].from_string("{% load stimulus_grids %}{% stimulus_grid grid %}").render({"grid": grid})
    assert "<img" not in html.split("<dialog")[0]  # no per-cell image requests
    assert f"--sprite-image: url({settings.MEDIA_URL}{sprite_info['file']})" in html
    positions = re.findall(r'background-position:([\d.]+)% ([\d.]+)%', html)
    assert len(positions) == len(cells)
    size, width, height = sprite_info["cell"], sprite_info["width"], sprite_info["height"]
    for cell, (x, y) in zip(cells, positions):
        assert round(float(x) / 100 * (width - size)) == cell.column * sprite_info["slot"] + sprite_info["pad"]
        assert round(float(y) / 100 * (height - size)) == cell.row * sprite_info["slot"] + sprite_info["pad"]
    for cell in cells:  # a click still enlarges the cell's own file
        assert f'data-full="{cell.image}"' in html

    response = client.get(settings.MEDIA_URL + sprite_info["file"])
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    assert response["ETag"] == f'"{Path(sprite_info["file"]).stem}"'


@pytest.mark.django_db
def test_with_sprites_off_or_without_one_every_cell_is_its_own_image(researcher, checkpoint, settings):  # noqa: F811
    from django.template import engines

    grid = make_grid(researcher, checkpoint, "counterfactual_interpolation")
    template = engines["django"].from_string("{% load stimulus_grids %}{% stimulus_grid grid %}")
    settings.STIMULUS_GRID_SPRITES = False
    html = template.render({"grid": grid})
    assert html.count('<img class="stimulus-grid__image"') == 25 and "--sprite-image" not in html
    assert f'src="{settings.MEDIA_URL}{grid.cells.first().image}"' in html

    settings.STIMULUS_GRID_SPRITES = True
    grid.provenance = {**grid.provenance, "sprite": None}
    grid.save()
    html = template.render({"grid": grid})  # a grid built before sprites
    assert html.count('<img class="stimulus-grid__image"') == 25
