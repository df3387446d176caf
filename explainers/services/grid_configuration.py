"""What a stimulus grid may be: its method parameters, layout, checkpoint and column orientation.

Every check that can fail runs here, before a worker starts, and raises ValidationError keyed by field.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import ValidationError

from explainers.core.errors import CheckpointError
from explainers.core.methods.registry import MethodError, method_config, method_get
from explainers.core.stimuli.layout import (
    GRID_KINDS,
    GridLayout,
    GridLayoutError,
    check_architecture,
    column_labels,
)
from explainers.models import Checkpoint
from explainers.services.checkpoints import artifact_path, checkpoint_load
from explainers.services.held_out import held_out_logits

#: Method parameters a grid fills in itself (from its layout and seed), with placeholders for validation.
GRID_FILLED_PARAMETERS: dict[str, dict[str, Any]] = {
    "example_based": {"target_logits": (0.0,), "per_column": 1, "seed": 0},
    "counterfactual_interpolation": {"target_logits": (0.0,)},
    "isofactual": {"target_logits": (0.0,), "anchor_index": 0},
}


def grid_method_parameters(*, method: str, parameters: dict[str, Any] | None) -> dict[str, Any]:
    """Validate ``parameters`` with the method's config; returns the full config minus what the grid fills.

    Column targets come from the layout's percentiles and draws from the grid's seed, so those method
    parameters are refused here with a message saying where to set them.
    """
    if parameters is not None and not isinstance(parameters, dict):
        raise MethodError("parameters must be a JSON object")
    parameters = dict(parameters or {})
    filled = GRID_FILLED_PARAMETERS.get(method, {})
    clashing = sorted(set(parameters) & set(filled) | ({"alphas"} & set(parameters)))
    if clashing:
        raise MethodError(
            f"{method}: a grid sets {', '.join(clashing)} itself (column targets from the layout's percentiles, "
            f"draws from the grid's seed); remove {'it' if len(clashing) == 1 else 'them'}"
        )
    config = method_config(method, {**parameters, **filled})
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in filled}


def grid_orientation(dataset: dict[str, Any]) -> tuple[bool, list[str]]:
    """(positive logits on the left?, [left class name, right class name]).

    The seed shows "very confident Stretchy" in the far left column and "very confident Sticky" in the far
    right one. Logits are positive for label 1, so the columns are flipped when label 1 is Stretchy (the
    Two4Two convention: 0 = Sticky, 1 = Stretchy).
    """
    if dataset.get("kind", "two4two") == "two4two":
        from explainers.core.datasets.two4two import CLASS_NAMES

        names = CLASS_NAMES
    else:
        names = tuple(dataset.get("class_names") or ("class 0", "class 1"))
    negative, positive = names[0].capitalize(), names[1].capitalize()
    positive_on_left = positive.lower() == "stretchy"
    return positive_on_left, [positive, negative] if positive_on_left else [negative, positive]


def grid_column_labels(*, dataset: dict[str, Any], columns: int) -> list[str]:
    _, (left, right) = grid_orientation(dataset)
    return column_labels(columns, left=left, right=right)


def _method_errors(method: str, kind: str | None, parameters, checkpoint: Checkpoint,
                   errors: dict[str, list[str]]) -> None:
    if kind is None:
        try:
            method_get(method)
            errors.setdefault("method", []).append(
                f"Method {method!r} cannot fill a stimulus grid; choose one of {', '.join(sorted(GRID_KINDS))}.")
        except MethodError as exc:
            errors.setdefault("method", []).append(str(exc))
        return
    try:
        grid_method_parameters(method=method, parameters=parameters)
    except MethodError as exc:
        errors.setdefault("parameters", []).append(str(exc))
    try:
        check_architecture(kind, checkpoint.architecture)
    except GridLayoutError as exc:
        errors.setdefault("checkpoint", []).append(str(exc))


def _check_capacity(checkpoint: Checkpoint, layout: GridLayout, kind: str) -> None:
    """Score the held-out images (once per checkpoint, cached) and refuse bins too small for the layout."""
    from explainers.core.stimuli.layout import check_bin_capacity
    from explainers.core.stimuli.logit_grid import ColumnBins

    try:
        loaded = checkpoint_load(checkpoint.file)
    except CheckpointError as exc:
        raise ValidationError({"checkpoint": [f"This checkpoint is not ready: {exc}"]}) from exc
    if checkpoint.sha256 and loaded.sha256 != checkpoint.sha256:
        raise ValidationError({"checkpoint": [
            f"The checkpoint file changed since it was registered (sha256 {loaded.sha256[:12]}…, "
            f"recorded {checkpoint.sha256[:12]}…)."]})
    try:
        _, logits, _ = held_out_logits(loaded, layout.held_out, batch_size=layout.batch_size)
        positive_on_left, _ = grid_orientation(loaded.dataset)
        bins = ColumnBins.of(logits, layout, positive_on_left).bins
        check_bin_capacity(bins, layout.originals_needed(kind), layout.columns,
                           grid_column_labels(dataset=loaded.dataset, columns=layout.columns))
    except GridLayoutError as exc:
        raise ValidationError({"layout": [str(exc)]}) from exc


def grid_validate_configuration(*, owner, checkpoint: Checkpoint, method: str,
                                parameters: dict[str, Any] | None = None, layout: dict[str, Any] | None = None,
                                check_capacity: bool = True) -> GridLayout:
    """Every check that can fail before a worker starts; raises ValidationError keyed by field.

    ``check_capacity`` scores the held-out images with the checkpoint (once per checkpoint, cached) so that a
    layout needing more originals than a bin holds is refused here, not inside the worker.
    """
    errors: dict[str, list[str]] = {}
    if owner is not None and checkpoint.owner_id not in (None, owner.pk) and not owner.is_superuser:
        errors.setdefault("checkpoint", []).append("This checkpoint belongs to another researcher.")
    path = artifact_path(checkpoint.file)
    if not checkpoint.sha256:
        errors.setdefault("checkpoint", []).append("This checkpoint is not ready: it has no recorded sha256.")
    elif not path.is_file():
        errors.setdefault("checkpoint", []).append(f"This checkpoint is not ready: its file {path} does not exist.")
    kind = GRID_KINDS.get(method)
    _method_errors(method, kind, parameters, checkpoint, errors)
    grid_layout = None
    if layout is not None and not isinstance(layout, dict):
        errors.setdefault("layout", []).append("Layout must be a JSON object.")
    else:
        try:
            grid_layout = GridLayout.from_dict(layout)
            if kind:
                grid_layout.check_kind(kind)
        except GridLayoutError as exc:
            errors.setdefault("layout", []).append(str(exc))
    if errors:
        raise ValidationError(errors)
    if check_capacity:
        _check_capacity(checkpoint, grid_layout, kind)
    return grid_layout
