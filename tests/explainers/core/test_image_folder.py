"""Reading researchers' image collections: both layouts, every refusal, the content hash and the split."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from explainers.core.datasets.image_folder import (
    ImageImportError,
    ImportLimits,
    read_collection,
    stratified_split,
)
from tests.explainers.researcher_assets import digits_zip, png_bytes, small_digits


def test_a_zip_with_labels_csv_reads_in_name_order_with_attributes(tmp_path):
    collection = read_collection(digits_zip(tmp_path / "d.zip"))
    images, labels = small_digits()
    assert collection.images.shape == (len(images), 8, 8, 1)
    assert collection.class_names == [str(d) for d in range(10)]
    assert collection.names[0] == "images/d000.png"
    np.testing.assert_array_equal(collection.images[:, :, :, 0], images)
    np.testing.assert_array_equal(collection.labels, labels)
    assert collection.attributes["writer"][:3] == ["w0", "w1", "w2"]


def test_class_folders_are_a_second_layout_and_the_hash_ignores_packing(tmp_path):
    folder = tmp_path / "folders"
    images, labels = small_digits()
    for i, (image, label) in enumerate(zip(images[:20], labels[:20])):
        (folder / f"class_{label}").mkdir(parents=True, exist_ok=True)
        (folder / f"class_{label}" / f"d{i:03d}.png").write_bytes(png_bytes(image))
    first = read_collection(folder)
    assert first.class_names == ["class_0", "class_1"] and len(first.names) == 20
    with zipfile.ZipFile(tmp_path / "same.zip", "w") as archive:
        for path in sorted(folder.rglob("*.png"), reverse=True):  # other member order, same content
            archive.write(path, f"top/{path.relative_to(folder).as_posix()}")
    assert read_collection(tmp_path / "same.zip").sha256 == first.sha256
    (folder / "class_1" / "d019.png").write_bytes(png_bytes(np.zeros((8, 8), np.uint8)))
    assert read_collection(folder).sha256 != first.sha256


@pytest.mark.parametrize("extra, rows, expected", [
    ({"../evil.png": b"x"}, None, "leaves the archive"),
    ({"/etc/passwd.png": b"x"}, None, "absolute"),
    ({"images/notes.txt": b"hello"}, None, "not an image"),
    ({"images/d000.png": b"\x89PNG\r\n\x1a\n broken"}, None, "d000.png"),
    ({"images/big.png": png_bytes(np.zeros((9, 8), np.uint8))}, None, "mixed sizes"),
    ({"other/d000.png": png_bytes(np.zeros((8, 8), np.uint8))}, None, "duplicate name"),
    ({}, ["filename,label", "d000.png,0", "d000.png,1"], "listed twice"),
    ({}, ["filename,label", "nothere.png,0"], "no image named"),
    ({}, ["filename,kind"], "missing column"),
])
def test_bad_collections_are_refused_with_every_reason(tmp_path, extra, rows, expected):
    with pytest.raises(ImageImportError) as caught:
        read_collection(digits_zip(tmp_path / "bad.zip", extra=extra, rows=rows))
    assert expected in str(caught.value)


def test_unknown_labels_empty_uploads_and_limits(tmp_path):
    with pytest.raises(ImageImportError, match="unknown label"):
        read_collection(digits_zip(tmp_path / "a.zip"), class_names=[str(d) for d in range(9)])
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(ImageImportError, match="no files"):
        read_collection(tmp_path / "empty.zip")
    with pytest.raises(ImageImportError, match="at most 5 are accepted"):
        read_collection(digits_zip(tmp_path / "b.zip"), limits=ImportLimits(max_files=5))
    with pytest.raises(ImageImportError, match="pixels per image"):
        read_collection(digits_zip(tmp_path / "c.zip"), limits=ImportLimits(max_pixels=32))
    (tmp_path / "plain.zip").write_bytes(b"not a zip")
    with pytest.raises(ImageImportError, match="not a readable zip"):
        read_collection(tmp_path / "plain.zip")


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/x.png", b"\0" * 5_000_000)
    with pytest.raises(ImageImportError, match="zip bomb"):
        read_collection(path)


def test_stimuli_need_no_labels_and_keep_their_metadata(tmp_path):
    images, _ = small_digits()
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as archive:
        for i in range(3):
            archive.writestr(f"s{i}.png", png_bytes(images[i]))
        archive.writestr("metadata.csv", "filename,condition,trial\ns0.png,a,1\ns2.png,b,2\n")
    collection = read_collection(tmp_path / "s.zip", labelled=False)
    assert collection.attributes == {"condition": ["a", "", "b"], "trial": ["1", "", "2"]}
    assert set(collection.labels.tolist()) == {-1}


def test_the_split_is_stratified_disjoint_and_reproducible():
    labels = np.repeat(np.arange(4), 25)
    first = stratified_split(labels, 3, val_fraction=0.1, test_fraction=0.2)
    again = stratified_split(labels, 3, val_fraction=0.1, test_fraction=0.2)
    other = stratified_split(labels, 4, val_fraction=0.1, test_fraction=0.2)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["test"], other["test"])
    assert sorted(np.concatenate(list(first.values())).tolist()) == list(range(100))
    assert np.bincount(labels[first["test"]]).tolist() == [5, 5, 5, 5]
    with pytest.raises(ValueError):
        stratified_split(labels, 0, val_fraction=0.5, test_fraction=0.5)
