"""Progressive-exaggeration explainers of registered classifiers: train one (with progress), register it, evaluate.

An explainer is trained for exactly one classifier (Singla et al., seeds/progressive-exaggeration.txt: I_f
depends on f). It becomes a RegisteredModel of kind ``generator`` whose ``metrics["explains"]`` records the
classifier's id, name and sha256, so explainers.services.auxiliary_models refuses it, when a stimulus set is
configured, for any other classifier; the network itself also carries the classifier's fingerprint.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from django.conf import settings
from django.core.exceptions import ValidationError

from explainers.models import RegisteredModel
from explainers.services.checkpoints import artifact_path, checkpoint_load, json_safe

if TYPE_CHECKING:  # pragma: no cover
    from explainers.core.training.checkpoints import LoadedCheckpoint

Progress = Callable[[int, int, dict[str, float]], None]


def _data_source(classifier: RegisteredModel) -> tuple[dict[str, Any], Callable | None]:
    """(overrides of the explainer's data settings, a loader or None): a platform checkpoint's own training data,
    otherwise the train and validation splits of the classifier's registered dataset."""
    if classifier.checkpoint_id:
        trained = checkpoint_load(classifier.checkpoint.file).config
        return {key: getattr(trained, key) for key in ("dataset", "sampler", "dataset_seed", "train_size", "val_size")
                if hasattr(trained, key)}, None
    from explainers.services.datasets import dataset_arrays

    def loader(config, cache_dir):
        train_images, train_labels = dataset_arrays(classifier.dataset, "train")
        val_images, val_labels = dataset_arrays(classifier.dataset, "val")
        return {"train_images": train_images, "train_labels": train_labels, "val_images": val_images,
                "val_labels": val_labels}
    return {}, loader


def explainer_config(classifier: RegisteredModel, *, preset: str, steps: int | None = None,
                     target_class: int | None = None, seed: int | None = None):
    """The training configuration of an explainer of ``classifier``: the preset, sized to its images, its
    classes and data; ValidationError for anything that does not fit."""
    from dataclasses import replace

    from explainers.core.nets.glow import NetConfigError
    from explainers.core.training.exaggeration import ExaggerationTrainingError, explainer_preset

    channels, size = int(classifier.input_shape[0]), int(classifier.input_shape[-1])
    classes = len(classifier.class_names)
    if target_class is None:
        target_class = 1 if classes == 2 else 0
    overrides, _ = _data_source(classifier)
    try:
        config = explainer_preset(preset, steps=steps, seed=seed, classifier_sha256=classifier.sha256,
                                  **{k: v for k, v in overrides.items() if k != "dataset"})
        net = replace(config.net, image_size=size, in_channels=channels, classifier_classes=classes,
                      target_class=target_class)
        return replace(config, net=net, dataset=overrides.get("dataset", config.dataset))
    except (ExaggerationTrainingError, NetConfigError, TypeError) as exc:
        raise ValidationError({"preset": [f"Cannot train {preset!r} for model {classifier.name!r}: {exc}"]}) from exc


def explainer_train(*, classifier: RegisteredModel, out: Path | str, preset: str = "exaggeration-two4two-32",
                    steps: int | None = None, target_class: int | None = None, seed: int | None = None,
                    resume: bool = False, num_threads: int | None = None, device: str | None = "cpu",
                    time_limit_s: float | None = None, progress: Progress | None = None) -> "LoadedCheckpoint":
    """Train (or resume) the explainer of a registered classifier into ``out`` (relative: under ARTIFACTS_ROOT)."""
    import torch

    from explainers.core.training.exaggeration_loop import explainer_train_to_checkpoint
    from explainers.services.classifiers import classifier_load

    config = explainer_config(classifier, preset=preset, steps=steps, target_class=target_class, seed=seed)
    _, loader = _data_source(classifier)
    if num_threads:
        torch.set_num_threads(num_threads)
    network = classifier_load(classifier)
    return explainer_train_to_checkpoint(
        config, network, artifact_path(out), resume=resume, cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets",
        progress=progress, num_threads=num_threads, device=device, time_limit_s=time_limit_s, data_loader=loader)


def explainer_register(*, classifier: RegisteredModel, path: Path | str, name: str, owner=None) -> RegisteredModel:
    """The trained explainer file as a RegisteredModel (kind generator) recording the classifier it explains."""
    from explainers.services.checkpoints import checkpoint_register
    from explainers.services.classifiers import model_register_checkpoint

    loaded = checkpoint_load(path)
    recorded = getattr(loaded.config, "classifier_sha256", None)
    if recorded is None:
        raise ValidationError({"path": ["This checkpoint is not a progressive-exaggeration explainer."]})
    if recorded != classifier.sha256:
        raise ValidationError({"classifier": [f"This explainer was trained for the classifier with sha256 "
                                              f"{recorded[:12]}…, not for {classifier.name!r}."]})
    checkpoint = checkpoint_register(path=path, name=name, owner=owner)
    explains = {"id": classifier.pk, "name": classifier.name, "sha256": classifier.sha256}
    return model_register_checkpoint(owner=owner, checkpoint=checkpoint, name=name, dataset=classifier.dataset,
                                     metrics={"explains": explains, **json_safe(loaded.metrics)})


def explainer_train_and_register(*, classifier_id: int, out: str, name: str, preset: str = "exaggeration-two4two-32",
                                 steps: int | None = None, resume: bool = True, device: str | None = "auto",
                                 progress: Progress | None = None) -> RegisteredModel:
    """What the Celery task runs: train (resuming a half-finished file) and register; idempotent by file."""
    classifier = RegisteredModel.objects.select_related("dataset", "checkpoint").get(pk=classifier_id)
    loaded = explainer_train(classifier=classifier, out=out, preset=preset, steps=steps, resume=resume, device=device,
                             progress=progress)
    return explainer_register(classifier=classifier, path=loaded.path, name=name, owner=classifier.owner)


def explainer_for(explainer: RegisteredModel, classifier: RegisteredModel) -> None:
    """ValidationError unless ``explainer`` is a progressive-exaggeration explainer trained for ``classifier``."""
    explains = (explainer.metrics or {}).get("explains") or {}
    if explainer.kind != RegisteredModel.Kind.GENERATOR or not explains.get("sha256"):
        raise ValidationError({"explainer": [f"{explainer.name!r} is not a progressive-exaggeration explainer."]})
    if explains["sha256"] != classifier.sha256:
        raise ValidationError({"explainer": [f"{explainer.name!r} was trained to explain {explains.get('name')!r}, "
                                             f"not {classifier.name!r}."]})


# ------------------------------------------------------------------------------------------- evaluation

def _readout(size: int, path: Path | str | None):
    """The Two4Two parameter read-out for ``size`` px: the shipped one, else a cached file, else trained and cached."""
    from explainers.core.evaluation.counterfactual_quality import (
        readout_load, readout_save, shipped_readout, train_regressors,
    )

    shipped = shipped_readout(size) if path is None else None
    if shipped is not None:
        return shipped
    path = artifact_path(path or f"readouts/two4two-readout-{size}.pt")
    if path.is_file():
        readout, trained_size = readout_load(path)
        if trained_size == size:
            return readout
    readout = train_regressors(size=size, n=4000, seed=11, steps=600)
    path.parent.mkdir(parents=True, exist_ok=True)
    readout_save(readout, path, size=size)
    return readout


def _held_out(explainer_config, classifier: RegisteredModel, count: int):
    """Held-out real images (uint8) of the explained classifier's data: its validation images."""
    from explainers.core.training.exaggeration import FAMILY

    _, loader = _data_source(classifier)
    data = (loader or FAMILY.dataset_arrays)(explainer_config, Path(settings.ARTIFACTS_ROOT) / "datasets")
    return data["val_images"][:count]


def explainer_evaluate(*, explainer: RegisteredModel, oracle: RegisteredModel | None = None, count: int = 200,
                       steps: int = 10, figure: Path | str | None = None,
                       readout_path: Path | str | None = None, readout=None) -> dict[str, Any]:
    """The explainer's three properties, the Two4Two parameters its rows change and the confounding metric.

    ``oracle``: an independent classifier of the same images whose features define the Frechet distance
    (e.g. the ``cnn-two4two-oracle`` preset); without one, data consistency is not measured. The Two4Two
    parameter read-out is ``readout``, else the shipped one for the image size, else trained once and cached.
    """
    from explainers.core.evaluation import exaggeration as ev
    from explainers.core.methods.gradients import logit_function
    from explainers.services.classifiers import classifier_load

    explains = (explainer.metrics or {}).get("explains") or {}
    classifier = RegisteredModel.objects.filter(pk=explains.get("id")).select_related("dataset", "checkpoint").first()
    if classifier is None:
        raise ValidationError({"explainer": [f"{explainer.name!r} records no classifier it explains that still exists."]})
    explainer_for(explainer, classifier)
    loaded = checkpoint_load(explainer.checkpoint.file)
    net, forward = loaded.model.eval(), logit_function(classifier_load(classifier).eval())
    images = _held_out(loaded.config, classifier, count)
    if classifier.dataset.kind == "two4two" and readout is None:
        readout = _readout(int(images.shape[1]), readout_path)
    features = None
    if oracle is not None:
        features = getattr(classifier_load(oracle).eval(), "features", None)
        if features is None:
            raise ValidationError({"oracle": [f"{oracle.name!r} offers no feature layer; use a platform-trained "
                                              f"CNN (e.g. the cnn-two4two-oracle preset)."]})
    report = ev.evaluate(net, forward, images, steps=steps, oracle_features=features, readout=readout,
                         class_names=list(classifier.class_names), figure=figure,
                         title=f"{explainer.name}: compatibility with {classifier.name}")
    report = {"explainer": explainer.name, "classifier": classifier.name,
              "training": {k: loaded.metrics.get(k) for k in ("steps", "seconds", "device", "peak_rss_mib",
                                                               "peak_gpu_mib")}, **report}
    return json_safe(report)
