"""Business logic of the explainers app.

Training, checkpoints and the bias audit (explainers core) come first; grid services follow below.
torch is imported inside the functions so that web processes serving participants never load it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from django.conf import settings
from django.db import transaction

from explainers.exceptions import CheckpointError
from explainers.models import Checkpoint, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from explainers.training import LoadedCheckpoint

__all__ = ["CheckpointError", "checkpoint_load", "checkpoint_register", "model_train", "bias_audit_run"]


# ================================================================================= explainers core ===

def _resolve(path: Path | str) -> Path:
    path = Path(path)
    return path if path.is_absolute() else Path(settings.ARTIFACTS_ROOT) / path


def checkpoint_load(path: Path | str) -> "LoadedCheckpoint":
    """Load a checkpoint (absolute, or relative to ARTIFACTS_ROOT), verifying its sha256 and architecture.

    Returns an object with ``.model`` (eval mode), ``.config``, ``.metrics``, ``.dataset`` and ``.sha256``;
    raises CheckpointError with a clear message for a missing, corrupt, truncated or mismatched file.
    """
    from explainers.training import checkpoint_read

    # Issue 8 (ECINN): IB-INN checkpoints carry their own format tag; dispatch them to their reader.
    from explainers.ibinn_training import ibinn_checkpoint_read, is_ibinn_checkpoint

    if is_ibinn_checkpoint(_resolve(path)):
        return ibinn_checkpoint_read(_resolve(path))
    return checkpoint_read(_resolve(path))


def model_train(*, out: Path | str, preset: str = "demo", image_size: int | None = None, steps: int | None = None,
                sampler: str | None = None, dataset_seed: int | None = None, seed: int | None = None,
                train_size: int | None = None, val_size: int | None = None, resume: bool = False, num_threads: int | None = None,
                progress: Callable[[int, int, dict[str, float]], None] | None = None) -> "LoadedCheckpoint":
    """Train the invertible classifier on Two4Two and write a verified checkpoint to ``out``.

    ``preset`` picks the configuration ("demo" or "quick", see explainers.training.PRESETS); the other
    arguments override it. Rendered data is cached under ARTIFACTS_ROOT/datasets.
    """
    import torch

    from explainers.training import preset as training_preset
    from explainers.training import train_to_checkpoint

    config = training_preset(preset, image_size=image_size, steps=steps, sampler=sampler,
                             dataset_seed=dataset_seed, seed=seed, train_size=train_size, val_size=val_size)
    if num_threads:
        torch.set_num_threads(num_threads)
    return train_to_checkpoint(config, _resolve(out), resume=resume,
                               cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets",
                               progress=progress, num_threads=num_threads)


@transaction.atomic
def checkpoint_register(*, path: Path | str, name: str, owner=None) -> Checkpoint:
    """Create (or reuse, by sha256) the Checkpoint row of a verified file, with its Dataset row."""
    loaded = checkpoint_load(path)
    existing = Checkpoint.objects.filter(sha256=loaded.sha256).first()
    if existing is not None:
        return existing
    record = loaded.dataset
    parameters = {k: v for k, v in record.items() if k not in ("kind", "seed")}
    dataset = Dataset.objects.filter(kind=record.get("kind", "two4two"), seed=record.get("seed", 0),
                                     parameters=parameters).first()
    if dataset is None:
        dataset = Dataset(
            name=f"Two4Two {record.get('sampler', '?')} {record.get('size', '?')} px",
            kind=record.get("kind", Dataset.Kind.TWO4TWO), parameters=parameters, seed=record.get("seed", 0),
            splits={"train": record.get("train_size"), "validation": record.get("val_size")},
        )
        dataset.full_clean()
        dataset.save()
    checkpoint = Checkpoint(
        owner=owner, name=name, dataset=dataset, architecture=loaded.model.architecture,
        config=loaded.config.to_dict(), file=str(loaded.path), sha256=loaded.sha256,
        metrics=_json_safe(loaded.metrics),
    )
    checkpoint.full_clean()
    checkpoint.save()
    return checkpoint


def bias_audit_run(*, path: Path | str, n_test: int = 1000, n_regression: int = 6000, n_rows: int = 64,
                   regressor_steps: int = 2500, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The seed's Table 3 and the ideal-counterfactual check for a checkpoint (see explainers.audit)."""
    from explainers.audit import audit_checkpoint

    loaded = checkpoint_load(path)
    report = audit_checkpoint(loaded, n_test=n_test, n_regression=n_regression, n_rows=n_rows,
                              regressor_steps=regressor_steps, seed=seed, progress=progress)
    report["checkpoint"] = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": _json_safe(loaded.metrics)}
    return report


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)

# ============================================================================ end of explainers core ===


# =====================================================================================================
# Stimulus grids (issue 4): configuration, pregeneration with atomic publish, enqueueing.
# Everything below this line belongs to the grid pipeline; explainers core lives above.
# =====================================================================================================

import logging as _grid_logging  # noqa: E402
import os as _grid_os  # noqa: E402
import shutil as _grid_shutil  # noqa: E402
import subprocess as _grid_subprocess  # noqa: E402
import tempfile as _grid_tempfile  # noqa: E402
import time as _grid_time  # noqa: E402
import uuid as _grid_uuid  # noqa: E402
from pathlib import Path as _GridPath  # noqa: E402
from typing import Any as _GridAny, Callable as _GridCallable  # noqa: E402

from django.conf import settings as _grid_settings  # noqa: E402
from django.core.exceptions import ValidationError as _GridValidationError  # noqa: E402
from django.db import InterfaceError as _GridInterfaceError, OperationalError as _GridOperationalError  # noqa: E402
from django.db import transaction as _grid_transaction  # noqa: E402
from django.utils import timezone as _grid_timezone  # noqa: E402

from explainers import grids as grid_layouts  # noqa: E402  (pure numpy at import time; torch is lazy)
from explainers.exceptions import CheckpointError as _GridCheckpointError  # noqa: E402
from explainers.methods.registry import MethodError as _GridMethodError, method_config as _grid_method_config  # noqa: E402
from explainers.models import Checkpoint as _GridCheckpoint, GridCell as _GridCell  # noqa: E402
from explainers.models import StimulusGrid as _StimulusGrid  # noqa: E402

_grid_log = _grid_logging.getLogger("explainers.grids")

#: Folder under MEDIA_ROOT that holds published grids (one folder per grid and generation run).
GRID_MEDIA_DIR = "grids"
#: Errors of the database or broker that go away by themselves: the task retries on them.
GRID_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    _GridOperationalError, _GridInterfaceError, ConnectionError, TimeoutError,
)
#: Pixel size at which a cell is shown to participants (images are upscaled, never cropped).
GRID_DISPLAY_SIZE = 112

GridProgress = _GridCallable[[int, str], None]


#: Method parameters a grid fills in itself (from its layout and seed), with placeholders for validation.
GRID_FILLED_PARAMETERS: dict[str, dict[str, _GridAny]] = {
    "example_based": {"target_logits": (0.0,), "per_column": 1, "seed": 0},
    "counterfactual_interpolation": {"target_logits": (0.0,)},
    "isofactual": {"target_logits": (0.0,), "anchor_index": 0},
}


def grid_method_parameters(*, method: str, parameters: dict[str, _GridAny] | None) -> dict[str, _GridAny]:
    """Validate ``parameters`` with the method's config; returns the full config minus what the grid fills.

    Column targets come from the layout's percentiles and draws from the grid's seed, so those method
    parameters are refused here with a message saying where to set them.
    """
    import dataclasses

    if parameters is not None and not isinstance(parameters, dict):
        raise _GridMethodError("parameters must be a JSON object")
    parameters = dict(parameters or {})
    filled = GRID_FILLED_PARAMETERS.get(method, {})
    clashing = sorted(set(parameters) & set(filled) | ({"alphas"} & set(parameters)))
    if clashing:
        raise _GridMethodError(
            f"{method}: a grid sets {', '.join(clashing)} itself (column targets from the layout's percentiles, "
            f"draws from the grid's seed); remove {'it' if len(clashing) == 1 else 'them'}"
        )
    config = _grid_method_config(method, {**parameters, **filled})
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in filled}


def _grid_checkpoint_path(checkpoint: _GridCheckpoint) -> _GridPath:
    path = _GridPath(checkpoint.file)
    return path if path.is_absolute() else _GridPath(_grid_settings.ARTIFACTS_ROOT) / path


def _grid_class_names(dataset: dict[str, _GridAny]) -> tuple[str, str]:
    """(label-0 name, label-1 name) of the checkpoint's dataset, capitalised for headers."""
    if dataset.get("kind", "two4two") == "two4two":
        from explainers.datasets import two4two

        names = two4two.CLASS_NAMES
    else:
        names = tuple(dataset.get("class_names") or ("class 0", "class 1"))
    return names[0].capitalize(), names[1].capitalize()


def _grid_orientation(dataset: dict[str, _GridAny]) -> tuple[bool, list[str]]:
    """(positive logits on the left?, [left class name, right class name]).

    The seed shows "very confident Stretchy" in the far left column and "very confident Sticky" in the far
    right one. Logits are positive for label 1, so the columns are flipped when label 1 is Stretchy (the
    explainers core's Two4Two convention: 0 = Sticky, 1 = Stretchy).
    """
    negative, positive = _grid_class_names(dataset)
    positive_on_left = positive.lower() == "stretchy"
    return positive_on_left, [positive, negative] if positive_on_left else [negative, positive]


def grid_column_labels(*, dataset: dict[str, _GridAny], columns: int) -> list[str]:
    _, (left, right) = _grid_orientation(dataset)
    return grid_layouts.column_labels(columns, left=left, right=right)


def _grid_cache_dir() -> _GridPath:
    """Held-out images and logits, reused across grids (GRID_CACHE_DIR, default ARTIFACTS_ROOT/grid_cache)."""
    configured = getattr(_grid_settings, "GRID_CACHE_DIR", None)
    return _GridPath(configured) if configured else _GridPath(_grid_settings.ARTIFACTS_ROOT) / "grid_cache"


def _grid_held_out(dataset: dict[str, _GridAny], count: int):
    """Held-out images of the checkpoint's dataset: the validation stream, which training never sees.

    The seed's baseline drew from the validation set; sample() is prefix-stable, so the first val_size
    images are exactly the checkpoint's validation images. Cached under ARTIFACTS_ROOT.
    """
    import numpy as np

    from explainers.datasets import two4two

    if dataset.get("kind", "two4two") != "two4two":
        raise _GridValidationError(f"grids can only be built for Two4Two checkpoints, not {dataset.get('kind')!r}")
    sampler = dataset.get("sampler", "study")
    seed = int(dataset.get("val_seed", int(dataset.get("seed", 0)) + 1_000_003))
    size = int(dataset.get("size", 64))
    cache = _grid_cache_dir() / f"heldout-{sampler}-s{seed}-n{count}-{size}px.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return stored["images"], seed
    images, _, _ = two4two.sample(count, seed, sampler, size)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.name}.{_grid_uuid.uuid4().hex}.tmp.npz")
    np.savez(tmp, images=images)
    _grid_os.replace(tmp, cache)
    return images, seed


def _grid_held_out_logits(loaded, layout: grid_layouts.GridLayout, device=None):
    """Logits of the held-out images under ``loaded``'s model, cached per checkpoint sha256."""
    import numpy as np

    images, seed = _grid_held_out(loaded.dataset, layout.held_out)
    cache = (_grid_cache_dir()
             / f"logits-{loaded.sha256[:20]}-s{seed}-n{layout.held_out}.npy")
    if cache.exists():
        return images, np.load(cache), seed
    logits, _ = grid_layouts.held_out_logits(loaded.model, images, batch_size=layout.batch_size,
                                             device=device or grid_layouts.pick_device("cpu"))
    tmp = cache.with_name(f"{cache.stem}.{_grid_uuid.uuid4().hex}.tmp.npy")
    np.save(tmp, logits)
    _grid_os.replace(tmp, cache)
    return images, logits, seed


def grid_validate_configuration(*, owner, checkpoint: _GridCheckpoint, method: str,
                                parameters: dict[str, _GridAny] | None = None,
                                layout: dict[str, _GridAny] | None = None,
                                check_capacity: bool = True) -> tuple[grid_layouts.GridLayout, dict[str, _GridAny]]:
    """Every check that can fail before a worker starts; raises ValidationError keyed by field.

    ``check_capacity`` scores the held-out images with the checkpoint (once per checkpoint, cached) so that a
    layout needing more originals than a bin holds is refused here, not inside the worker.
    """
    errors: dict[str, list[str]] = {}
    if owner is not None and checkpoint.owner_id not in (None, owner.pk) and not owner.is_superuser:
        errors.setdefault("checkpoint", []).append("This checkpoint belongs to another researcher.")
    path = _grid_checkpoint_path(checkpoint)
    if not checkpoint.sha256:
        errors.setdefault("checkpoint", []).append("This checkpoint is not ready: it has no recorded sha256.")
    elif not path.is_file():
        errors.setdefault("checkpoint", []).append(f"This checkpoint is not ready: its file {path} does not exist.")
    kind = grid_layouts.GRID_KINDS.get(method)
    config_params: dict[str, _GridAny] = {}
    if kind is None:
        try:
            from explainers.methods.registry import method_get

            method_get(method)
            errors.setdefault("method", []).append(
                f"Method {method!r} cannot fill a stimulus grid; choose one of {', '.join(sorted(grid_layouts.GRID_KINDS))}."
            )
        except _GridMethodError as exc:
            errors.setdefault("method", []).append(str(exc))
    else:
        try:
            config_params = grid_method_parameters(method=method, parameters=parameters)
        except _GridMethodError as exc:
            errors.setdefault("parameters", []).append(str(exc))
        # Issue 8: ECINN kinds need class-conditional latents; refuse other architectures before any work.
        from explainers.ecinn_grids import check_ecinn_architecture

        try:
            check_ecinn_architecture(kind, checkpoint.architecture)
        except grid_layouts.GridLayoutError as exc:
            errors.setdefault("checkpoint", []).append(str(exc))
    if layout is not None and not isinstance(layout, dict):
        errors.setdefault("layout", []).append("Layout must be a JSON object.")
        grid_layout = None
    else:
        try:
            grid_layout = grid_layouts.GridLayout.from_dict(layout)
            if kind:
                grid_layout.check_kind(kind)
        except grid_layouts.GridLayoutError as exc:
            errors.setdefault("layout", []).append(str(exc))
            grid_layout = None
    if errors:
        raise _GridValidationError(errors)
    if check_capacity:
        try:
            loaded = checkpoint_load(path)  # noqa: F821  (explainers core, defined above)
        except _GridCheckpointError as exc:
            raise _GridValidationError({"checkpoint": [f"This checkpoint is not ready: {exc}"]}) from exc
        if checkpoint.sha256 and loaded.sha256 != checkpoint.sha256:
            raise _GridValidationError({"checkpoint": [
                f"The checkpoint file changed since it was registered (sha256 {loaded.sha256[:12]}…, "
                f"recorded {checkpoint.sha256[:12]}…)."]})
        try:
            _, logits, _ = _grid_held_out_logits(loaded, grid_layout)
            positive_on_left, _ = _grid_orientation(loaded.dataset)
            sign = -1.0 if positive_on_left else 1.0
            targets = grid_layouts.column_targets(logits, grid_layout.percentiles)
            bins = grid_layouts.assign_bins(sign * logits, grid_layouts.bin_edges(targets))
            needed = grid_layout.rows if kind == "baseline" else grid_layout.originals_per_bin()
            grid_layouts.check_bin_capacity(bins, needed, grid_layout.columns,
                                            grid_column_labels(dataset=loaded.dataset, columns=grid_layout.columns))
        except grid_layouts.GridLayoutError as exc:
            raise _GridValidationError({"layout": [str(exc)]}) from exc
    return grid_layout, config_params


def grid_create(*, owner, checkpoint: _GridCheckpoint, method: str, name: str = "",
                parameters: dict[str, _GridAny] | None = None, layout: dict[str, _GridAny] | None = None,
                seed: int = 0, enqueue: bool = True, check_capacity: bool = True) -> _StimulusGrid:
    """Validate a grid configuration, store it as pending and enqueue its pregeneration after commit."""
    grid_layout, _ = grid_validate_configuration(owner=owner, checkpoint=checkpoint, method=method,
                                                 parameters=parameters, layout=layout,
                                                 check_capacity=check_capacity)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _GridValidationError({"seed": ["Seed must be a non-negative whole number."]})
    with _grid_transaction.atomic():
        grid = _StimulusGrid(
            owner=owner, name=name or f"{method} grid", checkpoint=checkpoint, method=method,
            parameters=dict(parameters or {}), layout=grid_layout.to_dict(), seed=seed,
            status=_StimulusGrid.Status.PENDING,
        )
        grid.full_clean()
        grid.save()
        if enqueue:
            grid_enqueue(grid=grid)
    return grid


def grid_enqueue(*, grid: _StimulusGrid) -> str:
    """Send the grid to the ``gpu`` queue once the current transaction commits; returns the task id."""
    task_id = _grid_uuid.uuid4().hex
    _StimulusGrid.objects.filter(pk=grid.pk).update(task_id=task_id)
    grid.task_id = task_id
    grid_id = grid.pk

    def send() -> None:
        from explainers.tasks import pregenerate_grid

        pregenerate_grid.apply_async(args=[grid_id], task_id=task_id)

    _grid_transaction.on_commit(send)
    return task_id


def grid_regenerate(*, grid: _StimulusGrid) -> _StimulusGrid:
    """Reset a failed (or ready) grid to pending and enqueue it again; the published files stay until replaced."""
    with _grid_transaction.atomic():
        grid = _StimulusGrid.objects.select_for_update().get(pk=grid.pk)
        if grid.status == _StimulusGrid.Status.RUNNING:
            raise _GridValidationError("This grid is being generated right now; wait until it finishes.")
        if grid.is_ready and grid.conditions.exists():
            raise _GridValidationError("This grid is linked to a study condition; create a new grid instead.")
        grid.status = _StimulusGrid.Status.PENDING
        grid.progress = 0
        grid.error = ""
        grid.save(update_fields=["status", "progress", "error", "updated_at"])
        grid_enqueue(grid=grid)
    return grid


def _grid_code_version() -> str:
    root = _GridPath(_grid_settings.BASE_DIR)
    try:
        described = _grid_subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True, text=True,
            timeout=5, check=True,
        ).stdout.strip()
        if described:
            return f"git {described}"
    except (OSError, _grid_subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"studyserver {version('studyserver')}"
    except Exception:  # not installed as a package
        return "unknown"


def _grid_media_root() -> _GridPath:
    root = _GridPath(_grid_settings.MEDIA_ROOT) / GRID_MEDIA_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def _grid_remove_stale(grid: _StimulusGrid) -> None:
    """Remove what an interrupted run left behind: temporary folders and unpublished folders of this grid."""
    root = _grid_media_root()
    for leftover in root.glob(f".tmp-{grid.pk}-*"):
        _grid_shutil.rmtree(leftover, ignore_errors=True)
    published = (_GridPath(_grid_settings.MEDIA_ROOT) / grid.directory).resolve() if grid.directory else None
    for folder in (root / str(grid.pk)).glob("*"):
        if published is None or folder.resolve() != published:
            _grid_shutil.rmtree(folder, ignore_errors=True)


def _grid_readable_error(exc: BaseException, *, device: str, batch_size: int) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemoryError" in name or "out of memory" in str(exc).lower():
        return (f"Out of memory on {device} while generating the grid (batch size {batch_size}). "
                f"Lower the layout's batch_size or use a device with more memory.")
    if isinstance(exc, _GridCheckpointError):
        return f"The checkpoint could not be loaded: {exc}"
    if isinstance(exc, (grid_layouts.GridLayoutError, _GridMethodError)):
        return f"Impossible grid configuration: {exc}"
    if isinstance(exc, _GridValidationError):
        return "; ".join(exc.messages)
    return f"{name}: {exc}"


class _GridProgressWriter:
    """Writes integer progress to the database (at most every half second) and to the task's callback."""

    def __init__(self, grid_id: int, callback: GridProgress | None):
        self.grid_id, self.callback = grid_id, callback
        self.last_percent, self.last_write = -1, 0.0

    def __call__(self, percent: float, stage: str) -> None:
        percent = int(max(0, min(99, percent)))
        now = _grid_time.monotonic()
        if percent == self.last_percent or (now - self.last_write < 0.5 and percent - self.last_percent < 10):
            return
        self.last_percent, self.last_write = percent, now
        _StimulusGrid.objects.filter(pk=self.grid_id).exclude(status=_StimulusGrid.Status.READY).update(
            progress=percent, updated_at=_grid_timezone.now())
        if self.callback:
            self.callback(percent, stage)


def grid_pregenerate(grid_id: int, *, progress: GridProgress | None = None, device: str | None = None) -> _StimulusGrid:
    """Build, write and publish every file of a grid; idempotent and safe to run again after a crash.

    Files are written to a temporary folder under MEDIA_ROOT and renamed into place inside the transaction
    that creates the cells and flips the status to ready, so participants never see a half-written grid.
    A ready grid is returned untouched. Permanent failures (corrupt checkpoint, out of memory, impossible
    layout) mark the grid failed with a readable error and leave no files; transient database errors are
    re-raised so that the task retries.
    """
    with _grid_transaction.atomic():
        grid = _StimulusGrid.objects.select_for_update().select_related("checkpoint").get(pk=grid_id)
        if grid.is_ready:
            return grid
        grid.status, grid.progress, grid.error = _StimulusGrid.Status.RUNNING, 0, ""
        grid.save(update_fields=["status", "progress", "error", "updated_at"])
    _grid_remove_stale(grid)
    report = _GridProgressWriter(grid.pk, progress)
    root = _grid_media_root()
    tmp = _GridPath(_grid_tempfile.mkdtemp(prefix=f".tmp-{grid.pk}-", dir=root))
    tmp.chmod(0o755)  # mkdtemp makes it private; the published folder must be readable by the web server
    layout = grid_layouts.GridLayout.from_dict(grid.layout) if grid.layout else grid_layouts.GridLayout()
    device_name = device or "auto"
    try:
        import torch

        started = _grid_time.perf_counter()
        kind = grid_layouts.GRID_KINDS.get(grid.method)
        if kind is None:
            raise grid_layouts.GridLayoutError(f"method {grid.method!r} cannot fill a stimulus grid")
        layout.check_kind(kind)
        method_parameters = grid_method_parameters(method=grid.method, parameters=grid.parameters)
        torch_device = grid_layouts.pick_device(device)
        device_name = str(torch_device)
        loaded = checkpoint_load(_grid_checkpoint_path(grid.checkpoint))  # noqa: F821  (explainers core, above)
        if grid.checkpoint.sha256 and loaded.sha256 != grid.checkpoint.sha256:
            raise _GridCheckpointError(
                f"the file's sha256 {loaded.sha256[:12]}… differs from the registered {grid.checkpoint.sha256[:12]}…")
        model = loaded.model.to(torch_device).eval()
        load_s = _grid_time.perf_counter() - started
        report(3, "loading held-out images")
        started = _grid_time.perf_counter()
        images, held_out_seed = _grid_held_out(loaded.dataset, layout.held_out)
        sample_s = _grid_time.perf_counter() - started
        report(10, "scoring held-out images")
        positive_on_left, _ = _grid_orientation(loaded.dataset)
        labels = grid_column_labels(dataset=loaded.dataset, columns=layout.columns)
        result = grid_layouts.build_grid(
            model, images, kind=kind, layout=layout, seed=grid.seed, method_parameters=method_parameters,
            labels=labels, device=torch_device, positive_on_left=positive_on_left,
            progress=lambda fraction, stage: report(10 + 75 * fraction, stage),
        )
        directory_name = f"{GRID_MEDIA_DIR}/{grid.pk}/{_grid_uuid.uuid4().hex[:12]}"
        image_size = int(images.shape[1])
        manifest = {
            "grid": {"id": grid.pk, "name": grid.name, "kind": kind, "method": grid.method,
                     "parameters": grid.parameters, "layout": layout.to_dict(), "seed": grid.seed},
            "checkpoint": {"id": grid.checkpoint.pk, "name": grid.checkpoint.name, "sha256": loaded.sha256,
                           "architecture": grid.checkpoint.architecture, "step": getattr(loaded, "step", None),
                           "metrics": loaded.metrics},
            "dataset": {**loaded.dataset, "held_out_seed": held_out_seed, "held_out": layout.held_out},
            "column_targets": result.targets, "bin_edges": result.edges, "column_labels": result.labels,
            "positive_on_left": positive_on_left, "bin_counts": result.extra.get("bin_counts"),
            "network_evaluations": result.network_evaluations,
            "code_version": _grid_code_version(), "torch_version": torch.__version__, "device": device_name,
            "image_size": image_size, "created_at": _grid_timezone.now().isoformat(),
            "timings": {"load_checkpoint_s": load_s, "held_out_images_s": sample_s},
            "cells": [{"row": c.row, "column": c.column, "file": c.filename, "logit": c.logit,
                       "is_original": c.is_original, "source_index": c.source_index, "parameters": c.parameters}
                      for c in result.cells],
        }
        write_timings = grid_layouts.write_grid_files(
            result, tmp, manifest=manifest, progress=lambda fraction, stage: report(85 + 13 * fraction, stage))
        timings = {**result.timings, **manifest["timings"], **write_timings}
        final = _GridPath(_grid_settings.MEDIA_ROOT) / directory_name
        published = False
        try:
            with _grid_transaction.atomic():
                grid = _StimulusGrid.objects.select_for_update().get(pk=grid_id)
                if grid.is_ready:  # a duplicate delivery finished first; keep its files
                    _grid_shutil.rmtree(tmp, ignore_errors=True)
                    return grid
                previous = grid.directory
                final.parent.mkdir(parents=True, exist_ok=True)
                _grid_os.replace(tmp, final)
                published = True
                _GridCell.objects.filter(grid=grid).delete()
                _GridCell.objects.bulk_create([
                    _GridCell(grid=grid, row=c.row, column=c.column, image=f"{directory_name}/{c.filename}",
                              logit=c.logit, is_original=c.is_original, source_index=c.source_index,
                              parameters=c.parameters)
                    for c in result.cells
                ])
                grid.status, grid.progress, grid.error = _StimulusGrid.Status.READY, 100, ""
                grid.directory = directory_name
                grid.column_labels = result.labels
                grid.provenance = {
                    key: manifest[key] for key in (
                        "checkpoint", "dataset", "column_targets", "bin_edges", "code_version", "torch_version",
                        "device", "image_size", "network_evaluations", "positive_on_left", "bin_counts")
                } | {"timings": timings, "kind": kind, "manifest": f"{directory_name}/manifest.json",
                     "composite": f"{directory_name}/composite.png",
                     "display_size": max(GRID_DISPLAY_SIZE, image_size)}
                grid.finished_at = _grid_timezone.now()
                grid.save()
        except BaseException:
            if published:
                _grid_shutil.rmtree(final, ignore_errors=True)
            raise
        if previous and previous != directory_name:
            _grid_shutil.rmtree(_GridPath(_grid_settings.MEDIA_ROOT) / previous, ignore_errors=True)
        _grid_log.info("grid %s ready: %s cells on %s in %.1f s", grid.pk, len(result.cells), device_name,
                       sum(v for v in timings.values() if isinstance(v, float)))
        return grid
    except GRID_TRANSIENT_ERRORS:
        _grid_shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        _grid_shutil.rmtree(tmp, ignore_errors=True)
        message = _grid_readable_error(exc, device=device_name, batch_size=layout.batch_size)
        _grid_log.warning("grid %s failed: %s", grid_id, message, exc_info=not isinstance(
            exc, (_GridCheckpointError, grid_layouts.GridLayoutError, MemoryError)))
        _StimulusGrid.objects.filter(pk=grid_id).exclude(status=_StimulusGrid.Status.READY).update(
            status=_StimulusGrid.Status.FAILED, error=message, updated_at=_grid_timezone.now(),
            finished_at=_grid_timezone.now())
        return _StimulusGrid.objects.get(pk=grid_id)


def grid_progress(*, grid: _StimulusGrid) -> dict[str, _GridAny]:
    """What a progress bar needs, as plain JSON."""
    return {"id": grid.pk, "status": grid.status, "progress": grid.progress, "error": grid.error,
            "is_ready": grid.is_ready, "task_id": grid.task_id,
            "finished_at": grid.finished_at.isoformat() if grid.finished_at else None}
