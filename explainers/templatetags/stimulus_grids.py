"""``{% stimulus_grid grid %}``: a ready grid's HTML, rendered once per web process and grid version.

The seed's stimulus page shows 150 cells; rendering them took most of the page's time, and every participant
of a condition sees the same HTML. The fragment depends only on the grid row and its cells, so it is cached
(studyserver/process_cache.py) per grid, checked against the grid's published folder and last change (the
grid row comes fresh with every request: the stimulus page reads it from the database, so a regenerated or
failed grid is never shown from the cache) and rebuilt when a cell is saved or deleted (``grid_cells_changed``,
connected in ExplainersConfig.ready).

Where the grid has a sprite (all its cells in one PNG, written when the grid was built) and
STIMULUS_GRID_SPRITES is on, each cell is drawn from the sprite as a background (one image request for the
page instead of 150); the enlarge button still opens the cell's own file. Positions are percentages, so the
cells may take any size the layout gives them (at least 96 px).
"""
from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from explainers.models import GridCell, StimulusGrid
from studyserver.process_cache import ProcessCache

register = template.Library()

GRID_TEMPLATE = "explainers/grid_stimulus.html"
_fragments: ProcessCache[SafeString] = ProcessCache("stimulus-grid-html")


def _render(grid: StimulusGrid | None) -> SafeString:
    context: dict[str, Any] = {"grid": grid}
    if grid is not None and grid.is_ready:
        sprite = (grid.provenance or {}).get("sprite") if settings.STIMULUS_GRID_SPRITES else None
        context["sprite"] = sprite
        if sprite:
            context["sprite_size"] = (f"{100 * sprite['width'] / sprite['cell']:.4f}% "
                                      f"{100 * sprite['height'] / sprite['cell']:.4f}%")
        context["rows"] = _rows(list(grid.cells.all()), sprite)
    return mark_safe(render_to_string(GRID_TEMPLATE, context))


def _percent(offset: int, sprite_side: int, cell: int) -> str:
    # background-position p% puts the image's point p% at the box's p%: offset / (sprite - cell) in sprite
    # pixels, whatever size the box is drawn at.
    value = 0.0 if sprite_side == cell else 100 * offset / (sprite_side - cell)
    return f"{value:.4f}".rstrip("0").rstrip(".") + "%"


def _rows(cells: list[GridCell], sprite: dict[str, Any] | None) -> list[tuple[int, list[tuple[GridCell, str]]]]:
    """(row, [(cell, its background-position in the sprite, or "")]) in display order."""
    rows: dict[int, list[tuple[GridCell, str]]] = {}
    for cell in cells:
        position = ""
        if sprite:
            slot, pad, size = sprite["slot"], sprite["pad"], sprite["cell"]
            position = (f"{_percent(cell.column * slot + pad, sprite['width'], size)} "
                        f"{_percent(cell.row * slot + pad, sprite['height'], size)}")
        rows.setdefault(cell.row, []).append((cell, position))
    return sorted(rows.items())


@register.simple_tag
def stimulus_grid(grid: StimulusGrid | None) -> SafeString:
    if grid is None or not grid.is_ready:
        return _render(grid)
    return _fragments.get(grid.pk, lambda: _render(grid), fingerprint=(grid.directory, grid.updated_at,
                                                                     settings.STIMULUS_GRID_SPRITES))


def grid_cells_changed(sender, instance: GridCell, **kwargs) -> None:
    _fragments.invalidate(instance.grid_id)
