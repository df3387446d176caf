"""Run the counterfactual comparison on platform checkpoints (the command's service).

The work is plain torch in explainers.core.evaluation.counterfactual_setup (the GPU benchmark calls it
without Django); here relative paths resolve under ARTIFACTS_ROOT and Two4Two renders share the training
cache.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings


def _path(value: str | Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if path.is_absolute() else Path(settings.ARTIFACTS_ROOT) / path


def comparison_run(*, classifier: str, oracle: str | None, vae: str, class_vaes: dict[int, str],
                   ensemble: list[str], glow: str | None = None, ibinn: str | None = None,
                   out: str | None = None, figure: str | None = None, **options: Any
                   ) -> tuple[list[dict], dict[str, str]]:
    """The comparison table rows and the files written; ``options`` as
    :func:`explainers.core.evaluation.counterfactual_setup.comparison_from_checkpoints`."""
    from explainers.core.evaluation.counterfactual_setup import comparison_from_checkpoints

    return comparison_from_checkpoints(
        classifier=_path(classifier), oracle=_path(oracle), vae=_path(vae),
        class_vaes={label: _path(path) for label, path in class_vaes.items()},
        ensemble=[_path(path) for path in ensemble], glow=_path(glow), ibinn=_path(ibinn), out=_path(out),
        figure=figure, cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets", **options)
