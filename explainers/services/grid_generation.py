"""Pregeneration of a stimulus grid, as a worker runs it: build, write, publish atomically, or fail readably.

Files are written to a temporary folder under MEDIA_ROOT and renamed into place inside the transaction
that creates the cells and flips the status to ready, so participants never see a half-written grid.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from explainers.core.errors import CheckpointError
from explainers.core.methods.registry import MethodError
from explainers.core.stimuli.layout import GRID_KINDS, GridLayout, GridLayoutError
from explainers.models import GridCell, StimulusGrid
from explainers.services.checkpoints import checkpoint_load
from explainers.services.grid_configuration import (
    grid_column_labels,
    grid_method_parameters,
    grid_orientation,
)
from explainers.services.held_out import held_out_images
from explainers.services.stimulus_set_generation import stimulus_set_build

log = logging.getLogger("explainers.grids")

#: Folder under MEDIA_ROOT that holds published grids (one folder per grid and generation run).
GRID_MEDIA_DIR = "grids"
#: Errors of the database or broker that go away by themselves: the task retries on them.
GRID_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError,
                                                          TimeoutError)
#: Pixel size at which a cell is shown to participants (images are upscaled, never cropped).
GRID_DISPLAY_SIZE = 112
#: Keys of the manifest that the grid row keeps as its provenance.
PROVENANCE_KEYS = ("checkpoint", "dataset", "column_targets", "bin_edges", "code_version", "torch_version", "device",
                   "image_size", "network_evaluations", "positive_on_left", "bin_counts", "faithfulness",
                   "counterfactual_quality")

GridProgress = Callable[[int, str], None]


def code_version() -> str:
    """``git describe`` of the checkout, else the installed package version."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=Path(settings.BASE_DIR), capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
        if described:
            return f"git {described}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from importlib.metadata import version

        return f"studyserver {version('studyserver')}"
    except Exception:  # not installed as a package
        return "unknown"


def _media_root() -> Path:
    root = Path(settings.MEDIA_ROOT) / GRID_MEDIA_DIR
    root.mkdir(parents=True, exist_ok=True)
    return root


def _remove_stale(grid: StimulusGrid) -> None:
    """Remove what an interrupted run left behind: temporary folders and unpublished folders of this grid."""
    root = _media_root()
    for leftover in root.glob(f".tmp-{grid.pk}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    published = (Path(settings.MEDIA_ROOT) / grid.directory).resolve() if grid.directory else None
    for folder in (root / str(grid.pk)).glob("*"):
        if published is None or folder.resolve() != published:
            shutil.rmtree(folder, ignore_errors=True)


def _readable_error(exc: BaseException, *, device: str, batch_size: int) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemoryError" in name or "out of memory" in str(exc).lower():
        return (f"Out of memory on {device} while generating the grid (batch size {batch_size}). "
                f"Lower the layout's batch_size or use a device with more memory.")
    if isinstance(exc, CheckpointError):
        return f"The checkpoint could not be loaded: {exc}"
    if isinstance(exc, (GridLayoutError, MethodError)):
        return f"Impossible grid configuration: {exc}"
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    return f"{name}: {exc}"


class _ProgressWriter:
    """Writes integer progress to the database (at most every half second) and to the task's callback."""

    def __init__(self, grid_id: int, callback: GridProgress | None):
        self.grid_id, self.callback = grid_id, callback
        self.last_percent, self.last_write = -1, 0.0

    def __call__(self, percent: float, stage: str) -> None:
        percent = int(max(0, min(99, percent)))
        now = time.monotonic()
        if percent == self.last_percent or (now - self.last_write < 0.5 and percent - self.last_percent < 10):
            return
        self.last_percent, self.last_write = percent, now
        StimulusGrid.objects.filter(pk=self.grid_id).exclude(status=StimulusGrid.Status.READY).update(
            progress=percent, updated_at=timezone.now())
        if self.callback:
            self.callback(percent, stage)


def _build(grid: StimulusGrid, layout: GridLayout, torch_device, report: _ProgressWriter):
    """(result, manifest) of the grid's files; raises on any permanent problem."""
    import torch

    from explainers.core.stimuli.build import build_grid

    started = time.perf_counter()
    kind = GRID_KINDS.get(grid.method)
    if kind is None:
        raise GridLayoutError(f"method {grid.method!r} cannot fill a stimulus grid")
    layout.check_kind(kind)
    method_parameters = grid_method_parameters(method=grid.method, parameters=grid.parameters)
    loaded = checkpoint_load(grid.checkpoint.file)
    if grid.checkpoint.sha256 and loaded.sha256 != grid.checkpoint.sha256:
        raise CheckpointError(
            f"the file's sha256 {loaded.sha256[:12]}… differs from the registered {grid.checkpoint.sha256[:12]}…")
    model = loaded.model.to(torch_device).eval()
    load_s = time.perf_counter() - started
    report(3, "loading held-out images")
    started = time.perf_counter()
    images, held_out_seed = held_out_images(loaded.dataset, layout.held_out)
    sample_s = time.perf_counter() - started
    report(10, "scoring held-out images")
    positive_on_left, _ = grid_orientation(loaded.dataset)
    result = build_grid(
        model, images, kind=kind, layout=layout, seed=grid.seed, method_parameters=method_parameters,
        labels=grid_column_labels(dataset=loaded.dataset, columns=layout.columns), device=torch_device,
        positive_on_left=positive_on_left, progress=lambda fraction, stage: report(10 + 75 * fraction, stage),
    )
    manifest = {
        "grid": {"id": grid.pk, "name": grid.name, "kind": kind, "method": grid.method,
                 "parameters": grid.parameters, "layout": layout.to_dict(), "seed": grid.seed},
        "checkpoint": {"id": grid.checkpoint.pk, "name": grid.checkpoint.name, "sha256": loaded.sha256,
                       "architecture": grid.checkpoint.architecture, "step": getattr(loaded, "step", None),
                       "metrics": loaded.metrics},
        "dataset": {**loaded.dataset, "held_out_seed": held_out_seed, "held_out": layout.held_out},
        "column_targets": result.targets, "bin_edges": result.edges, "column_labels": result.labels,
        "positive_on_left": positive_on_left, "bin_counts": result.extra.get("bin_counts"),
        "faithfulness": result.extra.get("faithfulness"),
        "network_evaluations": result.network_evaluations,
        "code_version": code_version(), "torch_version": torch.__version__, "device": str(torch_device),
        "image_size": int(images.shape[1]), "created_at": timezone.now().isoformat(),
        "timings": {"load_checkpoint_s": load_s, "held_out_images_s": sample_s},
        "cells": [{"row": c.row, "column": c.column, "file": c.filename, "logit": c.logit,
                   "is_original": c.is_original, "source_index": c.source_index, "parameters": c.parameters}
                  for c in result.cells],
    }
    return result, manifest


def _counterfactual_quality(result, manifest: dict[str, Any], directory: Path) -> dict[str, Any] | None:
    """What a Two4Two counterfactual grid changes per unit logit (and its figure, written to ``directory``),
    when the project ships a parameter read-out for the grid's image size; None otherwise."""
    if result.kind not in ("counterfactual", "isofactual") or manifest["dataset"].get("kind") != "two4two":
        return None
    from explainers.core.evaluation.counterfactual_quality import grid_quality_report, shipped_readout

    readout = shipped_readout(int(manifest["image_size"]))
    return None if readout is None else grid_quality_report(result, readout, directory)


def _published_sprite(sprite: dict[str, Any] | None, directory_name: str) -> dict[str, Any] | None:
    """The sprite's geometry with its path under MEDIA_ROOT (what the participant page draws the cells from)."""
    return None if not sprite else {**sprite, "file": f"{directory_name}/{sprite['file']}"}


def grid_publish(grid_id: int, tmp: Path, result, manifest: dict[str, Any], timings: dict[str, Any]) -> StimulusGrid:
    """Rename ``tmp`` into place and store the cells in one transaction; a duplicate delivery keeps its files."""
    directory_name = f"{GRID_MEDIA_DIR}/{grid_id}/{uuid.uuid4().hex[:12]}"
    final = Path(settings.MEDIA_ROOT) / directory_name
    published = False
    try:
        with transaction.atomic():
            grid = StimulusGrid.objects.select_for_update().get(pk=grid_id)
            if grid.is_ready:  # a duplicate delivery finished first; keep its files
                shutil.rmtree(tmp, ignore_errors=True)
                return grid
            previous = grid.directory
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
            published = True
            GridCell.objects.filter(grid=grid).delete()
            # write_grid_files named each cell's file by its content (and noted the names in the manifest).
            files = {(entry["row"], entry["column"]): entry["file"] for entry in manifest.get("cells") or ()}
            GridCell.objects.bulk_create([
                GridCell(grid=grid, row=c.row, column=c.column,
                         image=f"{directory_name}/{files.get((c.row, c.column), c.filename)}",
                         logit=c.logit, is_original=c.is_original, source_index=c.source_index,
                         label=c.parameters.get("label", ""), prediction=c.parameters.get("prediction", ""),
                         parameters=c.parameters)
                for c in result.cells
            ])
            grid.status, grid.progress, grid.error = StimulusGrid.Status.READY, 100, ""
            grid.directory = directory_name
            grid.column_labels = result.labels
            grid.provenance = {key: manifest.get(key) for key in PROVENANCE_KEYS} | {
                "timings": timings, "kind": manifest["grid"]["kind"], "manifest": f"{directory_name}/manifest.json",
                "composite": f"{directory_name}/composite.png",
                "display_size": max(GRID_DISPLAY_SIZE, manifest["image_size"]),
                "sprite": _published_sprite(manifest.get("sprite"), directory_name)}
            grid.finished_at = timezone.now()
            grid.save()
    except BaseException:
        if published:
            shutil.rmtree(final, ignore_errors=True)
        raise
    if previous and previous != directory_name:
        shutil.rmtree(Path(settings.MEDIA_ROOT) / previous, ignore_errors=True)
    return grid


def grid_pregenerate(grid_id: int, *, progress: GridProgress | None = None, device: str | None = None) -> StimulusGrid:
    """Build, write and publish every file of a grid; idempotent and safe to run again after a crash.

    A ready grid is returned untouched. Permanent failures (corrupt checkpoint, out of memory, impossible
    layout) mark the grid failed with a readable error and leave no files; transient database errors are
    re-raised so that the task retries.
    """
    from explainers.core.stimuli.encoding import pick_device
    from explainers.core.stimuli.manifest import write_grid_files

    with transaction.atomic():
        grid = StimulusGrid.objects.select_for_update(of=("self",)).select_related("checkpoint").get(pk=grid_id)
        if grid.is_ready:
            return grid
        grid.status, grid.progress, grid.error = StimulusGrid.Status.RUNNING, 0, ""
        grid.save(update_fields=["status", "progress", "error", "updated_at"])
    _remove_stale(grid)
    report = _ProgressWriter(grid.pk, progress)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{grid.pk}-", dir=_media_root()))
    tmp.chmod(0o755)  # mkdtemp makes it private; the published folder must be readable by the web server
    is_grid = grid.kind == StimulusGrid.Kind.GRID
    layout = GridLayout.from_dict(grid.layout) if is_grid and grid.layout else GridLayout()
    device_name = device or "auto"
    try:
        torch_device = pick_device(device)
        device_name = str(torch_device)
        if is_grid:
            result, manifest = _build(grid, layout, torch_device, report)
            manifest["counterfactual_quality"] = _counterfactual_quality(result, manifest, tmp)
        else:
            result, manifest = stimulus_set_build(grid, torch_device, report)
            manifest["code_version"] = code_version()
        write_timings = write_grid_files(
            result, tmp, manifest=manifest, progress=lambda fraction, stage: report(85 + 13 * fraction, stage),
            sprite=is_grid)
        timings = {**result.timings, **manifest["timings"], **write_timings}
        if result.extra.get("maps") is not None:  # the raw attributions, for analyses beyond the pictures
            np.save(tmp / "attributions.npy", result.extra.pop("maps"))
        grid = grid_publish(grid_id, tmp, result, manifest, timings)
        log.info("grid %s ready: %s cells on %s in %.1f s", grid.pk, len(result.cells), device_name,
                 sum(v for v in timings.values() if isinstance(v, float)))
        return grid
    except GRID_TRANSIENT_ERRORS:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        message = _readable_error(exc, device=device_name, batch_size=layout.batch_size)
        log.warning("grid %s failed: %s", grid_id, message,
                    exc_info=not isinstance(exc, (CheckpointError, GridLayoutError, MemoryError)))
        StimulusGrid.objects.filter(pk=grid_id).exclude(status=StimulusGrid.Status.READY).update(
            status=StimulusGrid.Status.FAILED, error=message, updated_at=timezone.now(), finished_at=timezone.now())
        return StimulusGrid.objects.get(pk=grid_id)
