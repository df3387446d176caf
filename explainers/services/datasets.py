"""Datasets as researchers handle them: import their images, register the digits or Two4Two, read any split.

An import is all or nothing: the images are validated as a whole (explainers.core.datasets.image_folder), written
to a temporary folder under MEDIA_ROOT and renamed to an unguessable folder name in the transaction that creates
the row; any problem raises ValidationError keyed by field and leaves nothing behind.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Any, Sequence

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from explainers.models import Dataset

#: Folder under MEDIA_ROOT holding imported datasets, one unguessable folder each.
DATASET_MEDIA_DIR = "datasets"
SPLITS = ("train", "val", "test")
#: Split of a registered model's accuracy and of the default pool of stimulus sets.
HELD_OUT_SPLIT = "test"


def import_limits():
    from explainers.core.datasets.image_folder import ImportLimits

    return ImportLimits(max_files=settings.EXPLAINERS_UPLOAD_MAX_FILES,
                        max_total_bytes=settings.EXPLAINERS_UPLOAD_MAX_BYTES,
                        max_pixels=settings.EXPLAINERS_IMAGE_MAX_PIXELS)


def private_media_folder(kind: str) -> Path:
    root = Path(settings.MEDIA_ROOT) / kind
    root.mkdir(parents=True, exist_ok=True)
    return root


def spooled_upload(source: Path | str | IO[bytes], *, field: str, max_bytes: int, suffix: str = ".zip"):
    """A path to read ``source`` from, and a cleanup callable; an upload larger than ``max_bytes`` is refused.

    Paths are used as they are; uploaded files (Django's UploadedFile or any binary stream) are copied to a
    private temporary file first, so the readers can seek.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_file() and path.stat().st_size > max_bytes:
            raise ValidationError({field: [f"The file is {path.stat().st_size} bytes; at most {max_bytes} are accepted."]})
        return path, lambda: None
    size = getattr(source, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError({field: [f"The upload is {size} bytes; at most {max_bytes} are accepted."]})
    handle, name = tempfile.mkstemp(suffix=suffix)
    written = 0
    with os.fdopen(handle, "wb") as out:
        chunks = source.chunks() if hasattr(source, "chunks") else iter(lambda: source.read(1 << 20), b"")
        for chunk in chunks:
            written += len(chunk)
            if written > max_bytes:
                out.close()
                os.unlink(name)
                raise ValidationError({field: [f"The upload is larger than {max_bytes} bytes."]})
            out.write(chunk)
    return Path(name), lambda: os.unlink(name)


def read_images(source, *, labelled: bool, class_names: Sequence[str] | None = None, field: str = "source"):
    """Validate an image zip or folder (see image_folder.read_collection); ValidationError on ``field``."""
    from explainers.core.datasets.image_folder import ImageImportError, read_collection

    path, cleanup = spooled_upload(source, field=field, max_bytes=settings.EXPLAINERS_UPLOAD_MAX_BYTES)
    try:
        return read_collection(path, limits=import_limits(), labelled=labelled, class_names=class_names)
    except ImageImportError as exc:
        raise ValidationError({field: [f"Nothing was imported: {exc}"]}) from exc
    finally:
        cleanup()


def _check_split(val_fraction: float, test_fraction: float, seed: int) -> None:
    errors = {}
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            errors[name] = [f"Must be a fraction in [0, 1), got {value!r}."]
    if not errors and val_fraction + test_fraction >= 1:
        errors["test_fraction"] = ["Validation and test fractions must leave images for training."]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        errors["seed"] = ["Seed must be a non-negative whole number."]
    if errors:
        raise ValidationError(errors)


def dataset_import(*, owner, source, name: str, class_names: Sequence[str] | None = None, seed: int = 0,
                   val_fraction: float = 0.1, test_fraction: float = 0.2) -> Dataset:
    """Import a folder or zip of labelled images (``labels.csv`` or one sub-folder per class).

    The same content imported again by the same owner returns the existing dataset. Raises ValidationError
    (field ``source`` for the images) and stores nothing when anything is wrong.
    """
    from explainers.core.datasets.image_folder import save_collection, stratified_split

    _check_split(val_fraction, test_fraction, seed)
    if not (name or "").strip():
        raise ValidationError({"name": ["Give the dataset a name."]})
    collection = read_images(source, labelled=True, class_names=class_names)
    existing = Dataset.objects.filter(owner=owner, kind=Dataset.Kind.IMAGE_FOLDER,
                                      content_sha256=collection.sha256, seed=seed,
                                      parameters__val_fraction=val_fraction,
                                      parameters__test_fraction=test_fraction).first()
    if existing is not None:
        return existing
    splits = stratified_split(collection.labels, seed, val_fraction=val_fraction, test_fraction=test_fraction)
    root = private_media_folder(DATASET_MEDIA_DIR)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    directory = f"{DATASET_MEDIA_DIR}/{uuid.uuid4().hex}"
    final = Path(settings.MEDIA_ROOT) / directory
    try:
        save_collection(collection, tmp, splits)
        with transaction.atomic():
            dataset = Dataset(
                owner=owner, name=name.strip(), kind=Dataset.Kind.IMAGE_FOLDER, seed=seed,
                parameters={"val_fraction": val_fraction, "test_fraction": test_fraction},
                splits={k: int(len(v)) for k, v in splits.items()}, class_names=collection.class_names,
                attribute_names=list(collection.attributes), image_shape=list(collection.image_shape),
                image_count=len(collection.names), content_sha256=collection.sha256, directory=directory,
            )
            dataset.full_clean()
            dataset.save()
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        raise
    return dataset


def dataset_register_builtin(*, owner, source: str, name: str = "", size: int = 16, seed: int = 0,
                             sampler: str = "study", count: int = 2000) -> Dataset:
    """A Dataset row for the scikit-learn digits or the Two4Two renderer (nothing is stored: both regenerate).

    Two4Two draws ``count`` images with ``seed``, split 70/10/20 in draw order (sampling is prefix-stable).
    """
    from explainers.core.datasets import digits, two4two

    errors: dict[str, list[str]] = {}
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 128:
        errors["size"] = [f"Size must be a whole number of pixels between 8 and 128, got {size!r}."]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        errors["seed"] = ["Seed must be a non-negative whole number."]
    if source == Dataset.Kind.DIGITS:
        class_names, parameters, shape, channels = list(digits.CLASS_NAMES), {"size": size}, size, 1
        splits = {k: int(len(digits.load(k, size=8, seed=seed)[1])) for k in SPLITS} if not errors else {}
    elif source == Dataset.Kind.TWO4TWO:
        if sampler not in two4two.SAMPLERS:
            errors["sampler"] = [f"Unknown sampler {sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}."]
        if isinstance(count, bool) or not isinstance(count, int) or not 10 <= count <= 100_000:
            errors["count"] = ["Count must be a whole number between 10 and 100000."]
        class_names, parameters, shape, channels = list(two4two.CLASS_NAMES), \
            {"size": size, "sampler": sampler, "count": count}, size, 3
        splits = {"train": int(count * 0.7), "val": int(count * 0.1)} if not errors else {}
        splits["test"] = count - sum(splits.values()) if not errors else 0
    else:
        raise ValidationError({"kind": [f"Unknown dataset source {source!r}; choose digits or two4two, or import "
                                        f"images."]})
    if errors:
        raise ValidationError(errors)
    dataset = Dataset(owner=owner, name=name or f"{source} {size} px", kind=source, seed=seed, parameters=parameters,
                      splits=splits, class_names=class_names, image_shape=[shape, shape, channels],
                      image_count=sum(splits.values()))
    dataset.full_clean()
    dataset.save()
    return dataset


def dataset_arrays(dataset: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images N×H×W×C, int64 labels) of one split of any dataset source."""
    if split not in SPLITS:
        raise ValidationError({"split": [f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}."]})
    if dataset.kind == Dataset.Kind.IMAGE_FOLDER:
        from explainers.core.datasets.image_folder import load_collection

        collection, splits = load_collection(Path(settings.MEDIA_ROOT) / dataset.directory)
        index = splits[split]
        return collection.images[index], collection.labels[index]
    size = int(dataset.parameters.get("size", 16))
    if dataset.kind == Dataset.Kind.DIGITS:
        from explainers.core.datasets import digits

        images, labels = digits.load(split, size=size, seed=int(dataset.seed))
        return images[..., None], labels
    from explainers.core.datasets.cache import Two4TwoSpec, two4two_arrays

    count = sum(int(v) for v in dataset.splits.values())
    spec = Two4TwoSpec(dataset.parameters.get("sampler", "study"), int(dataset.seed), count, size)
    images, labels = two4two_arrays(spec, Path(settings.ARTIFACTS_ROOT) / "datasets")
    sizes = {name: int(dataset.splits.get(name) or 0) for name in SPLITS}
    start = {"train": 0, "val": sizes["train"], "test": sizes["train"] + sizes["val"]}[split]
    end = start + sizes[split]
    return images[start:end], np.asarray(labels[start:end], dtype=np.int64)


def dataset_delete_files(dataset: Dataset) -> None:
    if dataset.directory:
        shutil.rmtree(Path(settings.MEDIA_ROOT) / dataset.directory, ignore_errors=True)


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    return {"id": dataset.pk, "name": dataset.name, "kind": dataset.kind, "class_names": dataset.class_names,
            "image_shape": dataset.image_shape, "splits": dataset.splits, "sha256": dataset.content_sha256,
            "seed": dataset.seed}
