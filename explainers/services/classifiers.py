"""Registered models: a researcher's classifier file checked against its dataset, stored, loaded, evaluated.

Registration copies the file to an unguessable name under MEDIA_ROOT, loads it without unpickling anything
(explainers.core.classifiers), runs a batch of the dataset's images through it, checks the output shape
against the class names, records its sha256 and, by default, its accuracy on the held-out split. Any problem
raises ValidationError keyed by field and stores nothing. Platform-trained checkpoints become registered
models through ``model_register_checkpoint``, of the kind their family names (invertible flows,
differentiable CNNs, generators).
"""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from explainers.core.errors import CheckpointError
from explainers.models import Checkpoint, Dataset, RegisteredModel
from explainers.services.checkpoints import checkpoint_load
from explainers.services.datasets import HELD_OUT_SPLIT, dataset_arrays, private_media_folder, spooled_upload

#: Folder under MEDIA_ROOT holding registered model files, one unguessable name each.
MODEL_MEDIA_DIR = "models"
#: Images run through a model when it is registered.
CHECK_BATCH = 16
#: Capabilities of model kinds on top of those of the file format.
KIND_CAPABILITIES = {
    RegisteredModel.Kind.DIFFERENTIABLE: frozenset(),
    RegisteredModel.Kind.GENERATOR: frozenset({"generator"}),
    RegisteredModel.Kind.INVERTIBLE: frozenset({"invertible"}),
}


def _channels_list(values, channels: int, name: str, default: float) -> list[float]:
    if values in (None, "", []):
        return [default] * channels
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValidationError({"normalisation": [f"{name} must be a list of numbers, got {values!r}."]}) from None
    if len(numbers) == 1:
        numbers *= channels
    if len(numbers) != channels:
        raise ValidationError({"normalisation": [
            f"{name} needs one value per channel ({channels}), got {len(numbers)}."]})
    if name == "std" and any(v <= 0 for v in numbers):
        raise ValidationError({"normalisation": ["std values must be positive."]})
    return numbers


def _input_tensor(dataset: Dataset, input_shape: Sequence[int] | None, split: str, count: int | None = None):
    """(images as float tensors in the pixel convention, labels) of a split, checked against ``input_shape``."""
    import torch

    from explainers.core import pixels

    images, labels = dataset_arrays(dataset, split)
    if count is not None:
        images, labels = images[:count], labels[:count]
    x = pixels.to_tensor(images, torch.float32)
    if input_shape and list(x.shape[1:]) != list(input_shape):
        raise ValidationError({"input_shape": [
            f"The model takes C×H×W = {list(input_shape)} but the dataset's images are {list(x.shape[1:])}."]})
    return x, torch.as_tensor(labels)


def classifier_load(model: RegisteredModel):
    """The registered model ready for explanation methods: a RegisteredClassifier, or the invertible network.

    The file must still have its recorded sha256; CheckpointError otherwise.
    """
    from explainers.core.training.checkpoints import sha256_file as sha256_of
    from explainers.core.classifiers import RegisteredClassifier, load_network

    if model.file_format == RegisteredModel.Format.CHECKPOINT:
        loaded = checkpoint_load(model.checkpoint.file)
        loaded.model.class_names = list(model.class_names)
        loaded.model.capabilities = frozenset(model.capabilities)
        return loaded.model
    path = Path(settings.MEDIA_ROOT) / model.file
    if not path.is_file():
        raise CheckpointError(f"the file of model {model.name!r} is missing")
    digest = sha256_of(path)
    if digest != model.sha256:
        raise CheckpointError(f"the file of model {model.name!r} changed since it was registered "
                              f"(sha256 {digest[:12]}…, recorded {model.sha256[:12]}…)")
    network, file_format = load_network(path, model.file_format)
    return RegisteredClassifier(network, mean=model.normalisation["mean"], std=model.normalisation["std"],
                                class_names=model.class_names, file_format=file_format)


def classifier_accuracy(model: RegisteredModel, *, split: str = HELD_OUT_SPLIT) -> dict[str, Any]:
    """Accuracy of the model on a split of its dataset, with the counts it rests on."""
    from explainers.core.classifiers import predict
    from explainers.core.methods.gradients import logit_function

    classifier = classifier_load(model)
    x, labels = _input_tensor(model.dataset, model.input_shape, split)
    if len(labels) == 0:
        raise ValidationError({"split": [f"The dataset's {split} split is empty."]})
    logits = predict(logit_function(classifier), x.to(next(classifier.parameters()).dtype))
    correct = int((logits.argmax(1).cpu() == labels).sum())
    return {"split": split, "n": int(len(labels)), "correct": correct, "accuracy": correct / len(labels)}


def classifier_evaluate(*, model: RegisteredModel) -> RegisteredModel:
    """Compute and store the held-out accuracy of a registered model."""
    result = classifier_accuracy(model)
    RegisteredModel.objects.filter(pk=model.pk).update(accuracy=result["accuracy"],
                                                       metrics={**model.metrics, "held_out": result})
    model.refresh_from_db()
    return model


def _check_owner(owner, dataset: Dataset) -> None:
    if owner is not None and not owner.is_superuser and dataset.owner_id not in (None, owner.pk):
        raise ValidationError({"dataset": ["This dataset belongs to another researcher."]})


def model_register(*, owner, source, name: str, dataset: Dataset, kind: str = RegisteredModel.Kind.DIFFERENTIABLE,
                   input_shape: Sequence[int] | None = None, mean=None, std=None,
                   class_names: Sequence[str] | None = None, evaluate: bool = True) -> RegisteredModel:
    """Register a TorchScript or torch.export classifier file (a path or an upload) for ``dataset``."""
    from explainers.core.training.checkpoints import sha256_file as sha256_of
    from explainers.core.classifiers import RegisteredClassifier, check_classifier, load_network

    _check_owner(owner, dataset)
    if not (name or "").strip():
        raise ValidationError({"name": ["Give the model a name."]})
    if kind not in (RegisteredModel.Kind.DIFFERENTIABLE, RegisteredModel.Kind.GENERATOR):
        raise ValidationError({"kind": ["Invertible models are trained by the platform (train_model, train_ibinn) "
                                        "and registered from their checkpoint; upload a differentiable classifier "
                                        "or a generator."]})
    shape = list(dataset.image_shape)
    channels = int(shape[2]) if len(shape) == 3 else 1
    input_shape = list(input_shape) if input_shape else [channels, *shape[:2]]
    names = list(class_names) if class_names else list(dataset.class_names)
    if names != list(dataset.class_names):
        raise ValidationError({"class_names": [
            f"The model's class names {names} do not match the dataset's {list(dataset.class_names)} (same names, "
            f"same order: output k is the logit of class k)."]})
    normalisation = {"mean": _channels_list(mean, channels, "mean", 0.0),
                     "std": _channels_list(std, channels, "std", 1.0)}
    x, _ = _input_tensor(dataset, input_shape, "val" if dataset.splits.get("val") else "train", CHECK_BATCH)
    path, cleanup = spooled_upload(source, field="file", max_bytes=settings.EXPLAINERS_MODEL_MAX_BYTES, suffix=".pt")
    root = private_media_folder(MODEL_MEDIA_DIR)
    tmp = root / f".tmp-{uuid.uuid4().hex}.pt2"  # torch.export.load warns about other suffixes
    try:
        shutil.copyfile(path, tmp)
    finally:
        cleanup()
    try:
        network, file_format = load_network(tmp)
        classifier = RegisteredClassifier(network, mean=normalisation["mean"], std=normalisation["std"],
                                          class_names=names, file_format=file_format)
        check = check_classifier(classifier, x)
    except CheckpointError as exc:
        tmp.unlink(missing_ok=True)
        raise ValidationError({"file": [f"The model was not registered: {exc}"]}) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    relative = f"{MODEL_MEDIA_DIR}/{uuid.uuid4().hex}.{'pt2' if file_format == 'torch_export' else 'pt'}"
    final = Path(settings.MEDIA_ROOT) / relative
    try:
        with transaction.atomic():
            model = RegisteredModel(
                owner=owner, name=name.strip(), kind=kind, file_format=file_format, dataset=dataset,
                file=relative, sha256=sha256_of(tmp), input_shape=input_shape, normalisation=normalisation,
                class_names=names, capabilities=sorted(classifier.capabilities | KIND_CAPABILITIES[kind]),
                metrics={"check": {"output_shape": list(check.output_shape)}},
            )
            model.full_clean()
            model.save()
            tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    return classifier_evaluate(model=model) if evaluate else model


#: Capabilities of a platform-trained checkpoint by the kind its family registers as: every platform network
#: is a plain torch module (gradients and layer hooks); flows invert, generators decode.
CHECKPOINT_CAPABILITIES = {
    RegisteredModel.Kind.DIFFERENTIABLE: ["gradients", "layers"],
    RegisteredModel.Kind.GENERATOR: ["generator", "gradients", "layers"],
    RegisteredModel.Kind.INVERTIBLE: ["gradients", "invertible", "layers"],
}


@transaction.atomic
def model_register_checkpoint(*, owner, checkpoint: Checkpoint, name: str = "",
                              metrics: dict[str, Any] | None = None, dataset: Dataset | None = None) -> RegisteredModel:
    """A platform-trained checkpoint of any family as a registered model (reused when registered already).

    The kind comes from the checkpoint's model family (invertible flows, differentiable CNNs, generators),
    the capabilities from the kind, the accuracy from the recorded test (else validation) accuracy;
    ``metrics`` are added to the checkpoint's (e.g. what an explainer was trained for); ``dataset`` replaces
    the checkpoint's (an explainer belongs to the dataset of the classifier it explains).
    """
    from explainers.core.training.families import family_of_model

    existing = RegisteredModel.objects.filter(checkpoint=checkpoint, owner=owner).first()
    if existing is not None:
        return existing
    dataset = dataset or checkpoint.dataset
    if dataset is None:
        raise ValidationError({"checkpoint": ["This checkpoint records no dataset."]})
    try:
        loaded = checkpoint_load(checkpoint.file)
    except CheckpointError as exc:
        raise ValidationError({"checkpoint": [str(exc)]}) from exc
    if loaded.sha256 != checkpoint.sha256:
        raise ValidationError({"checkpoint": [f"The file of checkpoint {checkpoint.name!r} changed since it was "
                                              f"registered (sha256 {loaded.sha256[:12]}…)."]})
    kind = RegisteredModel.Kind(family_of_model(loaded.model).registered_kind)
    net = loaded.model.config
    size = int(getattr(net, "image_size", 0))
    channels = int(getattr(net, "in_channels", 3))
    from explainers.core.datasets import two4two

    class_names = list(dataset.class_names) or list(
        loaded.dataset.get("class_names") or (two4two.CLASS_NAMES if dataset.kind == Dataset.Kind.TWO4TWO else []))
    recorded = {**checkpoint.metrics, **(metrics or {})}
    accuracy = recorded.get("test_accuracy", recorded.get("val_accuracy"))
    model = RegisteredModel(
        owner=owner, name=name or checkpoint.name, kind=kind,
        file_format=RegisteredModel.Format.CHECKPOINT, dataset=dataset, checkpoint=checkpoint, file=checkpoint.file,
        sha256=checkpoint.sha256, input_shape=[channels, size, size],
        normalisation={"mean": [0.0] * channels, "std": [1.0] * channels}, class_names=class_names,
        capabilities=CHECKPOINT_CAPABILITIES[kind], metrics=recorded,
        accuracy=accuracy if kind != RegisteredModel.Kind.GENERATOR else None,
    )
    model.full_clean()
    model.save()
    return model


def model_delete_file(model: RegisteredModel) -> None:
    if model.file_format != RegisteredModel.Format.CHECKPOINT and model.file:
        (Path(settings.MEDIA_ROOT) / model.file).unlink(missing_ok=True)
