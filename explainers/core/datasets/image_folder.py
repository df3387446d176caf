"""Researchers' own image collections: a folder or a zip of images, validated as a whole (plain numpy + Pillow).

Two layouts are read: images plus a ``labels.csv`` (columns ``filename``, ``label`` and optional attribute
columns), or one sub-folder per class. Stimulus uploads use the same reader without labels (the CSV, named
``metadata.csv`` there, is optional and its columns become per-image metadata).

Nothing is trusted: every problem (a path that escapes the archive, a link, a file that is not an image, a
corrupt image, mixed sizes, a label outside the declared classes, duplicate names, too many or too large
files) is collected and reported together in one :class:`ImageImportError`, and nothing is returned; the caller
stores nothing. Archives are read in memory entry by entry after their declared sizes passed the limits, so a
zip bomb is refused before it is inflated. Images are decoded with Pillow and kept as pixels only: the
uploaded bytes are never served or written back as they came.

The content hash covers the decoded pixels, labels, names and attributes in name order, so the same images
packed differently hash the same; the split (:func:`stratified_split`) depends only on the labels and a seed.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator, Sequence

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LABELS_FILE = "labels.csv"
METADATA_FILE = "metadata.csv"
#: Entries archivers add that carry no data (macOS resource forks, Windows thumbnails).
IGNORED_PARTS = ("__MACOSX", ".DS_Store", "Thumbs.db")
#: At most this many problems are listed; the report says how many more there were.
REPORT_LINES = 20


@dataclass(frozen=True)
class ImportLimits:
    """Bounds on one upload; every one of them is a setting (see explainers.services.datasets)."""

    max_files: int = 20_000
    max_total_bytes: int = 512 * 1024 * 1024
    max_file_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 1024 * 1024
    #: Uncompressed / compressed size of one zip entry above which it is taken for a zip bomb.
    max_compression_ratio: int = 200


class ImageImportError(ValueError):
    """An image collection that cannot be imported; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        shown = self.problems[:REPORT_LINES]
        more = len(self.problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more problem(s)" if more > 0 else "")
        super().__init__(text)


@dataclass
class ImageCollection:
    """Decoded images in name order: ``images`` uint8 N×H×W×C (C = 1 or 3), ``labels`` class indices (or -1)."""

    images: np.ndarray
    names: list[str]
    labels: np.ndarray
    class_names: list[str]
    attributes: dict[str, list[str]] = field(default_factory=dict)
    sha256: str = ""

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.images.shape[1:])  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- entries

def _unsafe_name(name: str) -> str | None:
    """Why an archive member name may not be used, or None when it is a plain relative path."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute or Windows path"
    if any(part in ("..", "") for part in name.rstrip("/").split("/")):
        return "a path that leaves the archive"
    if any(ord(c) < 32 for c in name):
        return "control characters"
    return None


def _ignored(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(part in IGNORED_PARTS or part.startswith("._") for part in parts)


def _zip_entries(path: Path, limits: ImportLimits, problems: list[str]) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"the upload is not a readable zip archive ({exc})")
        return
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        safe = []
        for info in members:
            reason = _unsafe_name(info.filename)
            mode = info.external_attr >> 16
            if reason:
                problems.append(f"{info.filename!r}: refused, {reason}")
            elif stat.S_ISLNK(mode):
                problems.append(f"{info.filename!r}: refused, a symbolic link")
            elif not _ignored(info.filename):
                safe.append(info)
        _check_sizes([(i.filename, i.file_size, i.compress_size) for i in safe], limits, problems)
        if problems:
            return
        for info in safe:
            with archive.open(info) as handle:
                data = handle.read(limits.max_file_bytes + 1)
            if len(data) > limits.max_file_bytes:  # the header lied about the size
                problems.append(f"{info.filename!r}: larger than {limits.max_file_bytes} bytes")
                return
            yield info.filename, data


def _folder_entries(root: Path, limits: ImportLimits, problems: list[str]) -> Iterator[tuple[str, bytes]]:
    root = root.resolve()
    files = []
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if _ignored(name):
            continue
        if path.is_symlink():
            problems.append(f"{name!r}: refused, a symbolic link")
        elif path.is_file():
            files.append((name, path))
    _check_sizes([(name, path.stat().st_size, None) for name, path in files], limits, problems)
    if problems:
        return
    for name, path in files:
        yield name, path.read_bytes()


def _check_sizes(entries: list[tuple[str, int, int | None]], limits: ImportLimits, problems: list[str]) -> None:
    if len(entries) > limits.max_files:
        problems.append(f"{len(entries)} files; at most {limits.max_files} are accepted")
    total = sum(size for _, size, _ in entries)
    if total > limits.max_total_bytes:
        problems.append(f"{total} bytes uncompressed; at most {limits.max_total_bytes} are accepted")
    for name, size, compressed in entries:
        if size > limits.max_file_bytes:
            problems.append(f"{name!r}: {size} bytes; at most {limits.max_file_bytes} per file")
        elif compressed is not None and size > 1_000_000 and size > limits.max_compression_ratio * max(1, compressed):
            problems.append(f"{name!r}: compressed {size // max(1, compressed)}:1, refused as a zip bomb")


def read_entries(source: Path, limits: ImportLimits) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(name, bytes) of every usable file of a zip or a folder, with the common top folder removed."""
    problems: list[str] = []
    source = Path(source)
    if source.is_dir():
        entries = list(_folder_entries(source, limits, problems))
    elif source.is_file():
        entries = list(_zip_entries(source, limits, problems))
    else:
        return [], [f"{source} is neither a folder nor a zip file"]
    tops = {name.split("/", 1)[0] for name, _ in entries}
    if len(tops) == 1 and all("/" in name for name, _ in entries):
        entries = [(name.split("/", 1)[1], data) for name, data in entries]
    return entries, problems


# ----------------------------------------------------------------------------------------------- images

def decode_image(name: str, data: bytes, limits: ImportLimits) -> tuple[np.ndarray | None, str | None]:
    """(H×W×C uint8 pixels, None) or (None, the reason the file is not a usable image)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > limits.max_pixels:
                return None, f"{name!r}: {width}×{height} px; at most {limits.max_pixels} pixels per image"
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            grey = image.mode in ("1", "L", "I;16", "I", "F")
            pixels = np.asarray(image.convert("L" if grey else "RGB"), dtype=np.uint8)
    except UnidentifiedImageError:
        return None, f"{name!r}: not an image"
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return None, f"{name!r}: corrupt image ({exc})"
    return (pixels[..., None] if pixels.ndim == 2 else pixels), None


def _read_csv(name: str, data: bytes, required: Sequence[str], problems: list[str]) -> list[dict[str, str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(f"{name}: not UTF-8 text")
        return []
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(f"{name}: missing column(s) {', '.join(missing)} (found {', '.join(columns) or 'none'})")
        return []
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def _same_size(images: dict[str, np.ndarray], problems: list[str]) -> None:
    shapes: dict[tuple[int, ...], list[str]] = {}
    for name, pixels in images.items():
        shapes.setdefault(pixels.shape, []).append(name)
    if len(shapes) > 1:
        common = max(shapes, key=lambda s: len(shapes[s]))
        for shape, names in shapes.items():
            if shape != common:
                problems.append(f"mixed sizes: {len(names)} image(s) are {shape[1]}×{shape[0]}×{shape[2]} "
                                f"(e.g. {names[0]!r}) while most are {common[1]}×{common[0]}×{common[2]}; "
                                f"resize them all to one size")


def read_collection(source: Path, *, limits: ImportLimits = ImportLimits(), labelled: bool = True,
                    class_names: Sequence[str] | None = None) -> ImageCollection:
    """Read and validate a folder or zip; raise ImageImportError listing every problem.

    ``labelled``: a dataset (``labels.csv`` or class folders, every image labelled); otherwise stimuli (an
    optional ``metadata.csv``). ``class_names`` fixes the classes and their order; a label outside them is
    refused. Without it the classes are the labels found, sorted.
    """
    entries, problems = read_entries(source, limits)
    csv_name = LABELS_FILE if labelled else METADATA_FILE
    table = [data for name, data in entries if name == csv_name]
    images: dict[str, np.ndarray] = {}
    stems: dict[str, str] = {}
    for name, data in entries:
        if name == csv_name:
            continue
        if not name.lower().endswith(IMAGE_SUFFIXES):
            problems.append(f"{name!r}: not an image (allowed: {', '.join(IMAGE_SUFFIXES)})")
            continue
        stem = PurePosixPath(name).name
        if stem in stems:
            problems.append(f"duplicate name {stem!r} ({stems[stem]!r} and {name!r})")
            continue
        stems[stem] = name
        pixels, problem = decode_image(name, data, limits)
        if problem:
            problems.append(problem)
        else:
            images[name] = pixels
    if not entries and not problems:
        problems.append("the upload holds no files")
    elif not images and not problems:
        problems.append("the upload holds no images")
    _same_size(images, problems)
    rows = _read_csv(csv_name, table[0], ["filename", "label"] if labelled else ["filename"], problems) if table \
        else None
    names = sorted(images)
    labels_by_name, attributes = _labels_and_attributes(names, rows, labelled, problems)
    classes = list(class_names) if class_names else sorted({label for label in labels_by_name.values()})
    if class_names and len(set(classes)) != len(classes):
        problems.append(f"class names repeat: {classes}")
    unknown = sorted({label for label in labels_by_name.values() if label not in classes})
    if labelled and unknown:
        problems.append(f"unknown label(s) {', '.join(map(repr, unknown))}; the classes are {classes}")
    if labelled and len(classes) < 2 and not problems:
        problems.append(f"a dataset needs at least two classes, found {classes}")
    if problems:
        raise ImageImportError(problems)
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[labels_by_name[n]] if labelled else -1 for n in names], dtype=np.int64)
    collection = ImageCollection(np.stack([images[n] for n in names]), names, labels, classes, attributes)
    collection.sha256 = content_hash(collection)
    return collection


def _labels_and_attributes(names: list[str], rows: list[dict[str, str]] | None, labelled: bool,
                           problems: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Label and attribute values per image name, from the CSV rows or (labelled, no CSV) the class folders."""
    if rows is None:
        if not labelled:
            return {}, {}
        labels = {}
        for name in names:
            if "/" not in name:
                problems.append(f"{name!r} has no label: add {LABELS_FILE} or put each class in its own folder")
            else:
                labels[name] = name.split("/", 1)[0]
        return labels, {}
    by_stem = {PurePosixPath(n).name: n for n in names}
    labels: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    for number, row in enumerate(rows, start=2):
        filename = row.get("filename", "")
        name = by_stem.get(PurePosixPath(filename).name) if filename else None
        if name is None:
            problems.append(f"CSV line {number}: no image named {filename!r}")
            continue
        if name in values:
            problems.append(f"CSV line {number}: {filename!r} is listed twice")
            continue
        if labelled and not row.get("label"):
            problems.append(f"CSV line {number}: {filename!r} has an empty label")
            continue
        values[name] = row
        if labelled:
            labels[name] = row["label"]
    if labelled:
        unlabelled = [n for n in names if n not in labels]
        if unlabelled:
            problems.append(f"{len(unlabelled)} image(s) have no row in the CSV, e.g. {unlabelled[0]!r}")
    columns = [c for c in (rows[0].keys() if rows else []) if c not in ("filename", "label") and c]
    attributes = {c: [values.get(n, {}).get(c, "") for n in names] for c in columns}
    return labels, attributes


def content_hash(collection: ImageCollection) -> str:
    """sha256 of the decoded content (names, labels, pixels, attributes, class names) in name order."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"classes": collection.class_names, "attributes": collection.attributes},
                             sort_keys=True).encode())
    for i, name in enumerate(collection.names):
        digest.update(json.dumps([name, int(collection.labels[i]), list(collection.images[i].shape)]).encode())
        digest.update(np.ascontiguousarray(collection.images[i]).tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------- splitting

def stratified_split(labels: np.ndarray, seed: int, *, val_fraction: float,
                     test_fraction: float) -> dict[str, np.ndarray]:
    """Sorted indices per split ("train", "val", "test"), stratified by class and reproducible for a seed.

    Per class in label order, one seeded generator permutes the members; the first round(test_fraction × n)
    go to test, the next round(val_fraction × n) to validation, the rest to training.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(f"split fractions must be in [0, 1) and sum to less than 1, got validation "
                         f"{val_fraction} and test {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(test_fraction * len(members)))
        n_val = int(round(val_fraction * len(members)))
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test:n_test + n_val])
        parts["train"].append(members[n_test + n_val:])
    return {name: np.sort(np.concatenate(chunks)).astype(np.int64) if chunks else np.zeros(0, np.int64)
            for name, chunks in parts.items()}


# -------------------------------------------------------------------------------------------- storage

def save_collection(collection: ImageCollection, directory: Path, splits: dict[str, np.ndarray]) -> None:
    """Write ``arrays.npz`` (pixels, labels, split indices) and ``index.json`` into an existing folder."""
    directory = Path(directory)
    np.savez(directory / "arrays.npz", images=collection.images, labels=collection.labels,
             **{f"split_{k}": v for k, v in splits.items()})
    index = {"names": collection.names, "class_names": collection.class_names,
             "attributes": collection.attributes, "sha256": collection.sha256,
             "splits": {k: int(len(v)) for k, v in splits.items()}}
    (directory / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True), encoding="utf-8")


def load_collection(directory: Path) -> tuple[ImageCollection, dict[str, np.ndarray]]:
    """What :func:`save_collection` wrote (arrays only: ``allow_pickle=False``)."""
    directory = Path(directory)
    index = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    with np.load(directory / "arrays.npz", allow_pickle=False) as arrays:
        collection = ImageCollection(arrays["images"], index["names"], arrays["labels"], index["class_names"],
                                     index["attributes"], index["sha256"])
        splits = {k[len("split_"):]: arrays[k] for k in arrays.files if k.startswith("split_")}
    return collection, splits
