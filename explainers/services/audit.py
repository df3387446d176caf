"""Evaluations of a registered checkpoint file: the bias audit and the attribution comparison."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from django.conf import settings

from explainers.services.checkpoints import checkpoint_load, json_safe


def bias_audit_run(*, path: Path | str, n_test: int = 1000, n_regression: int = 6000, n_rows: int = 64,
                   regressor_steps: int = 2500, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The seed's Table 3 and the ideal-counterfactual check for a checkpoint (see explainers.core.evaluation.audit)."""
    from explainers.core.evaluation.audit import audit_checkpoint

    loaded = checkpoint_load(path)
    report = audit_checkpoint(loaded, n_test=n_test, n_regression=n_regression, n_rows=n_rows,
                              regressor_steps=regressor_steps, seed=seed, progress=progress)
    report["checkpoint"] = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": json_safe(loaded.metrics)}
    return report


def attribution_comparison_run(*, path: Path | str, out: Path | str, n: int = 100, reference: int = 500,
                               steps: int = 10, logit_change: float = 2.0, smoothgrad_samples: int = 10,
                               components: int = 16, seed: int = 0,
                               progress: Callable[[str], None] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The seed's section 3.2 comparison on held-out Two4Two images of a binary checkpoint.

    Writes results.json, table.txt and figure.png under ``out`` (relative: under MEDIA_ROOT); returns the
    results and the written files. Bad input raises ValueError (CheckpointError included) with a clear message.
    """
    from explainers.core.datasets import two4two
    from explainers.core.evaluation.attribution_comparison import ComparisonSettings, compare, write_outputs
    from explainers.core.pixels import to_tensor

    if n < 1 or reference < 2:
        raise ValueError("--n must be >= 1 and --reference >= 2")
    loaded = checkpoint_load(path)
    comparison = ComparisonSettings(steps=steps, logit_change=logit_change, smoothgrad_samples=smoothgrad_samples,
                                    components=components, seed=seed)
    model = loaded.model
    if not hasattr(model, "weight") or getattr(model, "num_classes", 2) != 2:
        raise ValueError("the comparison needs a binary classifier with a weight vector w (a Glow checkpoint)")
    dataset = loaded.dataset
    if dataset.get("kind", "two4two") != "two4two":
        raise ValueError(f"the comparison samples Two4Two images; this checkpoint was trained on {dataset.get('kind')!r}")
    size = int(dataset.get("size", model.config.image_size))
    sample_seed = int(dataset.get("val_seed", 1_000_003)) + 17 + seed
    images, _, _ = two4two.sample(n + reference, sample_seed, dataset.get("sampler", "study"), size)
    dtype = next(model.parameters()).dtype
    x = to_tensor(images[:n], dtype)
    results = compare(model, x, reference=to_tensor(images[n:], dtype), settings=comparison, progress=progress)
    out = Path(out)
    out = out if out.is_absolute() else Path(settings.MEDIA_ROOT) / out
    results["checkpoint"] = {"path": str(loaded.path), "sha256": loaded.sha256}
    return results, write_outputs(results, x, out)
