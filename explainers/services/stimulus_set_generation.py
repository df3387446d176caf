"""What a worker builds for a per-image stimulus set: the explained images, their cells and manifest.

Called by explainers.services.grid_generation.grid_pregenerate, which writes and publishes the result exactly
as it does a grid (temporary folder, rename, cells and status in one transaction).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from django.utils import timezone

from explainers.models import StimulusGrid
from explainers.services.classifiers import classifier_load
from explainers.services.datasets import dataset_arrays, dataset_summary
from explainers.services.auxiliary_models import auxiliary_models_load


def stimulus_set_pool(stimulus_set: StimulusGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, their indices in the split) a set explains: ``count`` drawn from the split with its seed."""
    selection = stimulus_set.layout
    images, labels = dataset_arrays(stimulus_set.model.dataset, selection["split"])
    count = min(int(selection["count"]), len(images))
    rng = np.random.default_rng(int(stimulus_set.seed))
    index = np.sort(rng.choice(len(images), size=count, replace=False))
    return images[index], labels[index], index


def stimulus_set_build(stimulus_set: StimulusGrid, torch_device, report) -> tuple[Any, dict[str, Any]]:
    """(GridResult, manifest) of a per-image set; the raw attribution maps ride along in result.extra."""
    import torch

    from explainers.core.stimuli.explanation_set import build_explanation_set

    model = stimulus_set.model
    started = time.perf_counter()
    classifier = classifier_load(model).to(torch_device)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    images, labels, index = stimulus_set_pool(stimulus_set)
    reference = dataset_arrays(model.dataset, "train") if stimulus_set.method == "example_based" else None
    pool_s = time.perf_counter() - started
    started = time.perf_counter()
    auxiliaries, used = auxiliary_models_load(owner=stimulus_set.owner, model=model, method=stimulus_set.method,
                                              config=stimulus_set.parameters, device=torch_device)
    load_s += time.perf_counter() - started
    report(10, "explaining images")
    result, maps = build_explanation_set(
        classifier, images, labels, method=stimulus_set.method, parameters=stimulus_set.parameters,
        class_names=model.class_names, source_indices=index.tolist(), reference=reference,
        batch_size=int(stimulus_set.layout.get("batch_size", 16)), auxiliaries=auxiliaries,
        progress=lambda fraction, stage: report(10 + 75 * fraction, stage))
    result.extra["maps"] = maps
    manifest = {
        "grid": {"id": stimulus_set.pk, "name": stimulus_set.name, "kind": StimulusGrid.Kind.PER_IMAGE,
                 "method": stimulus_set.method, "parameters": stimulus_set.parameters, "layout": stimulus_set.layout,
                 "seed": stimulus_set.seed},
        "model": {"id": model.pk, "name": model.name, "sha256": model.sha256, "format": model.file_format,
                  "kind": model.kind, "class_names": model.class_names, "accuracy": model.accuracy,
                  "normalisation": model.normalisation},
        "auxiliary_models": {role: [{"id": other.pk, "name": other.name, "sha256": other.sha256, "kind": other.kind}
                                    for other in models] for role, models in used.items()},
        "checkpoint": None,
        "dataset": {**dataset_summary(model.dataset), "split": stimulus_set.layout["split"]},
        "torch_version": torch.__version__, "device": str(torch_device), "image_size": int(images.shape[1]),
        "network_evaluations": result.network_evaluations, "created_at": timezone.now().isoformat(),
        "timings": {"load_model_s": load_s, "pool_images_s": pool_s},
        "column_labels": result.labels,
        "cells": [{"row": c.row, "column": c.column, "file": c.filename, "logit": c.logit,
                   "is_original": c.is_original, "source_index": c.source_index, "parameters": c.parameters}
                  for c in result.cells],
    }
    return result, manifest
