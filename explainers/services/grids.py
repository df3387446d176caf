"""Stimulus grids as researchers handle them: create (validated, then enqueued), regenerate, progress."""
from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from explainers.models import Checkpoint, StimulusGrid
from explainers.services.grid_configuration import grid_validate_configuration
from explainers.tasks import pregenerate_grid


def grid_create(*, owner, checkpoint: Checkpoint, method: str, name: str = "",
                parameters: dict[str, Any] | None = None, layout: dict[str, Any] | None = None,
                seed: int = 0, enqueue: bool = True, check_capacity: bool = True) -> StimulusGrid:
    """Validate a grid configuration, store it as pending and enqueue its pregeneration after commit."""
    grid_layout = grid_validate_configuration(owner=owner, checkpoint=checkpoint, method=method,
                                              parameters=parameters, layout=layout, check_capacity=check_capacity)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError({"seed": ["Seed must be a non-negative whole number."]})
    with transaction.atomic():
        grid = StimulusGrid(
            owner=owner, name=name or f"{method} grid", checkpoint=checkpoint, method=method,
            parameters=dict(parameters or {}), layout=grid_layout.to_dict(), seed=seed,
            status=StimulusGrid.Status.PENDING,
        )
        grid.full_clean()
        grid.save()
        if enqueue:
            grid_enqueue(grid=grid)
    return grid


def grid_enqueue(*, grid: StimulusGrid) -> str:
    """Send the grid to the ``gpu`` queue once the current transaction commits; returns the task id."""
    task_id = uuid.uuid4().hex
    StimulusGrid.objects.filter(pk=grid.pk).update(task_id=task_id)
    grid.task_id = task_id
    grid_id = grid.pk
    transaction.on_commit(lambda: pregenerate_grid.apply_async(args=[grid_id], task_id=task_id))
    return task_id


def grid_regenerate(*, grid: StimulusGrid) -> StimulusGrid:
    """Reset a failed (or ready) grid to pending and enqueue it again; the published files stay until replaced."""
    with transaction.atomic():
        grid = StimulusGrid.objects.select_for_update().get(pk=grid.pk)
        if grid.status == StimulusGrid.Status.RUNNING:
            raise ValidationError("This grid is being generated right now; wait until it finishes.")
        if grid.is_ready and grid.conditions.exists():
            raise ValidationError("This grid is linked to a study condition; create a new grid instead.")
        grid.status = StimulusGrid.Status.PENDING
        grid.progress = 0
        grid.error = ""
        grid.save(update_fields=["status", "progress", "error", "updated_at"])
        grid_enqueue(grid=grid)
    return grid


def grid_progress(*, grid: StimulusGrid) -> dict[str, Any]:
    """What a progress bar needs, as plain JSON."""
    return {"id": grid.pk, "status": grid.status, "progress": grid.progress, "error": grid.error,
            "is_ready": grid.is_ready, "task_id": grid.task_id,
            "finished_at": grid.finished_at.isoformat() if grid.finished_at else None}
