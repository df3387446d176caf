"""``{% stimulus_grid grid %}``: a ready grid's HTML, rendered once per web process and grid version.

The seed's stimulus page shows 150 cells; rendering them took most of the page's time, and every participant
of a condition sees the same HTML. The fragment depends only on the grid row and its cells, so it is cached
(studyserver/process_cache.py) per grid, checked against the grid's published folder and last change (the
grid row comes fresh with every request: the participant's condition joins it, so a regenerated or failed
grid is never shown from the cache) and rebuilt when a cell is saved or deleted (``grid_cells_changed``,
connected in ExplainersConfig.ready).
"""
from __future__ import annotations

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from explainers.models import GridCell, StimulusGrid
from studyserver.process_cache import ProcessCache

register = template.Library()

GRID_TEMPLATE = "explainers/grid_stimulus.html"
_fragments: ProcessCache[SafeString] = ProcessCache("stimulus-grid-html")


def _render(grid: StimulusGrid | None) -> SafeString:
    return mark_safe(render_to_string(GRID_TEMPLATE, {"grid": grid}))


@register.simple_tag
def stimulus_grid(grid: StimulusGrid | None) -> SafeString:
    if grid is None or not grid.is_ready:
        return _render(grid)
    return _fragments.get(grid.pk, lambda: _render(grid), fingerprint=(grid.directory, grid.updated_at))


def grid_cells_changed(sender, instance: GridCell, **kwargs) -> None:
    _fragments.invalidate(instance.grid_id)
