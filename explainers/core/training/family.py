"""What a model family brings to the one training loop: its network, configuration, data and loss."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: Training metrics of one batch: (the loss to minimise, floats to log such as "accuracy").
LossFunction = Callable[[Any, Any, Any, Any], tuple[Any, dict[str, float]]]


@dataclass(frozen=True)
class ModelFamily:
    """One kind of network as the training loop and the checkpoint files see it.

    ``loss(model, x, y, config)`` returns the training loss and the batch's metrics; ``eval_sums(model, x, y)``
    returns per-batch *sums* (``accuracy`` counts correct predictions) that evaluation divides by the number
    of images; ``dataset_arrays(config, cache_dir)`` returns ``train_``/``val_`` (and optionally ``test_``)
    ``images``/``labels``; ``finish(model, train_images)`` runs once after training (e.g. ECINN's class means);
    ``extra_metrics(config)`` adds configuration values worth recording with the final metrics.

    ``presets`` are the family's named training configurations (names unique across all families, so
    ``train_model --preset NAME`` finds the family); ``registered_kind`` is the RegisteredModel kind its
    checkpoints become ("invertible" flows, "differentiable" classifiers, "generator" generative models).
    A family without ``loss`` (a GAN with two optimizers) trains in its own loop; the checkpoint files still
    read and write it here.
    """

    architecture: str
    checkpoint_format: str
    model_class: type
    config_class: type
    dataset_arrays: Callable[[Any, Path | None], dict[str, np.ndarray]]
    loss: LossFunction | None = None
    eval_sums: Callable[[Any, Any, Any], dict[str, float]] | None = None
    label_dtype: str = "int64"
    prepare_labels: Callable[[Any, np.ndarray], np.ndarray] | None = None
    finish: Callable[[Any, np.ndarray], None] | None = None
    extra_metrics: Callable[[Any], dict[str, Any]] | None = None
    presets: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    registered_kind: str = "invertible"
