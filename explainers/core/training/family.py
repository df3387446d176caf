"""What a model family brings to the one training loop: its network, configuration, data and loss."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: Training metrics of one batch: (the loss to minimise, floats to log such as "accuracy").
LossFunction = Callable[[Any, Any, Any, Any], tuple[Any, dict[str, float]]]


@dataclass(frozen=True)
class ModelFamily:
    """One kind of invertible classifier as the training loop and the checkpoint files see it.

    ``loss(model, x, y, config)`` returns the training loss and the batch's metrics; ``eval_sums(model, x, y)``
    returns per-batch *sums* (``accuracy`` counts correct predictions) that evaluation divides by the number
    of images; ``dataset_arrays(config, cache_dir)`` returns ``train_``/``val_`` (and optionally ``test_``)
    ``images``/``labels``; ``finish(model, train_images)`` runs once after training (e.g. ECINN's class means);
    ``extra_metrics(config)`` adds configuration values worth recording with the final metrics.
    """

    architecture: str
    checkpoint_format: str
    model_class: type
    config_class: type
    loss: LossFunction
    eval_sums: Callable[[Any, Any, Any], dict[str, float]]
    dataset_arrays: Callable[[Any, Path | None], dict[str, np.ndarray]]
    label_dtype: str = "int64"
    prepare_labels: Callable[[Any, np.ndarray], np.ndarray] | None = None
    finish: Callable[[Any, np.ndarray], None] | None = None
    extra_metrics: Callable[[Any], dict[str, Any]] | None = None
