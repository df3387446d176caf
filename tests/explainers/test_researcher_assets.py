"""Researchers' own datasets, classifiers and stimulus sets: services, API, admin, commands, safety."""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from explainers.models import Dataset, RegisteredModel, StimulusGrid
from explainers.services.classifiers import model_register
from explainers.services.datasets import dataset_arrays, dataset_import, dataset_register_builtin
from explainers.services.stimulus_sets import stimulus_set_create, stimulus_set_images, stimulus_set_upload
from tests.explainers.researcher_assets import cnn_files, digits_zip, png_bytes, wrong_class_count_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user("ada", is_staff=True)


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user("mallory", is_staff=True)


@pytest.fixture
def dataset(researcher, tmp_path):
    return dataset_import(owner=researcher, source=digits_zip(tmp_path / "d.zip"), name="digits")


@pytest.fixture
def files(tmp_path):
    return cnn_files(tmp_path / "cnn")


@pytest.fixture
def model(researcher, dataset, files):
    return model_register(owner=researcher, source=files["export"], name="cnn", dataset=dataset, mean=[0.5],
                          std=[0.5])


def _stored(kind: str, settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / kind
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_import_stores_arrays_under_an_unguessable_name_with_a_reproducible_split(dataset, researcher, tmp_path,
                                                                                   settings):
    assert dataset.kind == Dataset.Kind.IMAGE_FOLDER and dataset.image_count == 120
    assert dataset.image_shape == [8, 8, 1] and dataset.attribute_names == ["writer"]
    assert dataset.splits == {"train": 90, "val": 10, "test": 20}  # per class: round(2.4), round(1.2)
    folder = Path(settings.MEDIA_ROOT) / dataset.directory
    assert len(folder.name) == 32 and folder.is_dir()
    assert not str(folder).startswith(str(settings.STATIC_ROOT))
    again = dataset_import(owner=researcher, source=digits_zip(tmp_path / "again.zip"), name="again")
    assert again.pk == dataset.pk  # same content, same owner: the existing dataset
    other = dataset_import(owner=researcher, source=digits_zip(tmp_path / "x.zip"), name="x", seed=1)
    test_a, _ = dataset_arrays(dataset, "test")
    test_b, _ = dataset_arrays(other, "test")
    assert test_a.shape == test_b.shape and not np.array_equal(test_a, test_b)
    np.testing.assert_array_equal(dataset_arrays(dataset, "test")[0], test_a)


@pytest.mark.parametrize("extra, rows", [
    ({"../../escape.png": b"x"}, None),
    ({"images/readme.txt": b"hello"}, None),
    ({"images/d001.png": b"\x89PNG\r\n\x1a\ncorrupt"}, None),
    ({}, ["filename,label"]),
])
def test_bad_uploads_store_nothing(researcher, tmp_path, settings, extra, rows):
    with pytest.raises(ValidationError) as caught:
        dataset_import(owner=researcher, source=digits_zip(tmp_path / "bad.zip", extra=extra, rows=rows), name="bad")
    assert "Nothing was imported" in str(caught.value)
    assert not Dataset.objects.exists() and _stored("datasets", settings) == []


def test_the_digits_and_two4two_are_sources_of_the_same_kind_of_dataset(researcher):
    digits = dataset_register_builtin(owner=researcher, source="digits", name="digits", size=8)
    images, labels = dataset_arrays(digits, "test")
    assert images.shape[1:] == (8, 8, 1) and len(labels) == digits.splits["test"]
    assert digits.class_names == [str(d) for d in range(10)]
    scenes = dataset_register_builtin(owner=researcher, source="two4two", name="t", size=16, count=20)
    images, labels = dataset_arrays(scenes, "val")
    assert images.shape == (2, 16, 16, 3) and scenes.class_names == ["sticky", "stretchy"]
    with pytest.raises(ValidationError):
        dataset_register_builtin(owner=researcher, source="imagenet", name="x")


def test_registration_checks_loads_hashes_and_evaluates(model, dataset, files, settings):
    import hashlib

    assert model.file_format == "torch_export" and model.capabilities == ["gradients", "layers"]
    assert model.sha256 == hashlib.sha256(files["export"].read_bytes()).hexdigest()
    assert model.input_shape == [1, 8, 8] and model.class_names == dataset.class_names
    assert 0.5 < model.accuracy <= 1.0 and model.metrics["held_out"]["n"] == 20
    stored = Path(settings.MEDIA_ROOT) / model.file
    assert stored.is_file() and len(stored.stem) == 32


def test_torchscript_models_register_without_layer_access(researcher, dataset, files):
    scripted = model_register(owner=researcher, source=files["torchscript"], name="ts", dataset=dataset,
                              mean=0.5, std=0.5, evaluate=False)
    assert scripted.file_format == "torchscript" and scripted.capabilities == ["gradients"]


def _malicious_pickle(path: Path, marker: Path) -> Path:
    class Exploit:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    path.write_bytes(pickle.dumps(Exploit()))
    return path


@pytest.mark.parametrize("make, expected", [
    (lambda tmp: wrong_class_count_model(tmp / "three.ts"), "returns 3 logits per image but 10 class names"),
    (lambda tmp: _malicious_pickle(tmp / "evil.pt", tmp / "pwned"), "Pickled Python objects are never loaded"),
    (lambda tmp: _torch_save_pickle(tmp / "saved.pt", tmp / "pwned"), "refused unread"),
])
def test_bad_model_files_are_refused_never_unpickled_and_nothing_is_stored(researcher, dataset, tmp_path, settings,
                                                                         make, expected):
    with pytest.raises(ValidationError) as caught:
        model_register(owner=researcher, source=make(tmp_path), name="bad", dataset=dataset)
    assert expected in str(caught.value)
    assert not (tmp_path / "pwned").exists()
    assert not RegisteredModel.objects.exists() and _stored("models", settings) == []


def _torch_save_pickle(path: Path, marker: Path) -> Path:
    import torch

    class Exploit:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    torch.save({"model": Exploit()}, path)
    return path


def test_class_names_must_match_the_dataset(researcher, dataset, files):
    with pytest.raises(ValidationError, match="do not match"):
        model_register(owner=researcher, source=files["export"], name="m", dataset=dataset,
                       class_names=list("abcdefghij"))


@pytest.mark.parametrize("method, parameters", [
    ("grad_cam", {}), ("integrated_gradients", {"n_steps": 8}), ("smoothgrad", {"samples": 4}),
    ("saliency_gradient", {}), ("lime", {"n_samples": 40, "patch_size": 2}), ("example_based", {"per_column": 2}),
])
def test_every_method_makes_a_published_stimulus_set_with_per_image_metadata(
        model, researcher, settings, django_capture_on_commit_callbacks, method, parameters):
    with django_capture_on_commit_callbacks(execute=True):
        created = stimulus_set_create(owner=researcher, model=model, method=method, parameters=parameters, count=4)
    created.refresh_from_db()
    assert created.status == "ready", created.error
    images = stimulus_set_images(created)
    columns = 3 if method == "example_based" else 2
    assert len(images) == 4 * columns
    originals = [image for image in images if image["is_original"]]
    assert len(originals) == 4 and {image["method"] for image in images} == {method}
    assert all(image["label"] in model.class_names and image["prediction"] in model.class_names for image in images)
    assert len({image["source_index"] for image in originals}) == 4
    folder = Path(settings.MEDIA_ROOT) / created.directory
    assert (folder / "manifest.json").is_file() and (folder / "composite.png").is_file()
    if method != "example_based":
        maps = np.load(folder / "attributions.npy")
        assert maps.shape == (4, 8, 8) and np.abs(maps).sum() > 0


def test_a_method_needing_what_the_model_lacks_is_refused_at_configuration(researcher, dataset, files):
    scripted = model_register(owner=researcher, source=files["torchscript"], name="ts", dataset=dataset,
                              mean=0.5, std=0.5, evaluate=False)
    with pytest.raises(ValidationError) as caught:
        stimulus_set_create(owner=researcher, model=scripted, method="grad_cam")
    assert "inner layer" in str(caught.value) and "torch.export" in str(caught.value)
    with pytest.raises(ValidationError, match="invertible"):
        stimulus_set_create(owner=researcher, model=scripted, method="counterfactual_interpolation")
    with pytest.raises(ValidationError, match="n_steps"):
        stimulus_set_create(owner=researcher, model=scripted, method="integrated_gradients",
                            parameters={"n_steps": 0})
    assert not StimulusGrid.objects.exists()


def test_uploaded_stimuli_become_a_ready_set_with_their_metadata(researcher, tmp_path, settings):
    path = tmp_path / "stimuli.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(3):
            archive.writestr(f"trial{i}.png", png_bytes(np.full((6, 6, 3), 40 * i, np.uint8)))
        archive.writestr("metadata.csv", "filename,condition,ground_truth\ntrial0.png,a,cat\ntrial1.png,b,dog\n")
    created = stimulus_set_upload(owner=researcher, source=path, name="mine")
    assert created.is_ready and created.kind == "uploaded"
    images = stimulus_set_images(created)
    assert [image["metadata"].get("condition", "") for image in images] == ["a", "b", ""]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../x.png", png_bytes(np.zeros((6, 6, 3), np.uint8)))
    before = set(_stored("grids", settings))
    with pytest.raises(ValidationError, match="leaves the archive"):
        stimulus_set_upload(owner=researcher, source=bad, name="bad")
    assert StimulusGrid.objects.count() == 1 and set(_stored("grids", settings)) == before


def test_only_the_owner_sees_datasets_models_and_sets_through_the_api(model, researcher, stranger):
    other = APIClient()
    other.force_authenticate(stranger)
    for url in ("/api/datasets/", "/api/models/", "/api/stimulus-sets/"):
        assert other.get(url).json()["results"] == []
    assert other.get(f"/api/models/{model.pk}/").status_code == 404
    response = other.post("/api/stimulus-sets/", {"model": model.pk, "method": "grad_cam"}, format="json")
    assert response.status_code == 400 and "model" in response.json()
    mine = APIClient()
    mine.force_authenticate(researcher)
    assert [m["id"] for m in mine.get("/api/models/").json()["results"]] == [model.pk]


def test_the_api_imports_registers_and_generates(researcher, tmp_path, files, django_capture_on_commit_callbacks):
    client = APIClient()
    client.force_authenticate(researcher)
    upload = SimpleUploadedFile("d.zip", digits_zip(tmp_path / "d.zip").read_bytes())
    response = client.post("/api/datasets/", {"name": "digits", "file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    dataset_id = response.json()["id"]
    bad = SimpleUploadedFile("b.zip", digits_zip(tmp_path / "b.zip", extra={"x.txt": b"no"}).read_bytes())
    response = client.post("/api/datasets/", {"name": "bad", "file": bad}, format="multipart")
    assert response.status_code == 400 and "not an image" in str(response.json()["source"])
    response = client.post("/api/models/", {"name": "cnn", "dataset": dataset_id, "mean": [0.5], "std": [0.5],
                                            "upload": SimpleUploadedFile("m.pt2", files["export"].read_bytes())},
                           format="multipart")
    assert response.status_code == 201, response.content
    model_id = response.json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/stimulus-sets/", {"model": model_id, "method": "grad_cam", "count": 3},
                               format="json")
    assert response.status_code == 201, response.content
    images = client.get(f"/api/stimulus-sets/{response.json()['id']}/images/").json()
    assert len(images) == 6 and images[1]["role"] == "explanation" and images[1]["url"].startswith("/media/grids/")


def test_the_admin_add_form_shows_a_refused_upload(admin_client, tmp_path):
    bad = SimpleUploadedFile("b.zip", digits_zip(tmp_path / "b.zip", extra={"../evil.png": b"x"}).read_bytes())
    response = admin_client.post("/admin/explainers/dataset/add/", {
        "name": "bad", "kind": "image_folder", "seed": 0, "upload": bad, "val_fraction": 0.1, "test_fraction": 0.2,
        "size": 16})
    assert response.status_code == 200
    assert "leaves the archive" in response.content.decode()
    assert not Dataset.objects.exists()
    good = SimpleUploadedFile("d.zip", digits_zip(tmp_path / "d.zip").read_bytes())
    response = admin_client.post("/admin/explainers/dataset/add/", {
        "name": "good", "kind": "image_folder", "seed": 0, "upload": good, "val_fraction": 0.1,
        "test_fraction": 0.2, "size": 16})
    assert response.status_code == 302 and Dataset.objects.get().name == "good"


def test_the_admin_registers_models_and_refuses_a_mismatch_on_the_form(admin_client, dataset, files, tmp_path):
    bad = SimpleUploadedFile("three.ts", wrong_class_count_model(tmp_path / "three.ts").read_bytes())
    response = admin_client.post("/admin/explainers/registeredmodel/add/", {
        "name": "bad", "dataset": dataset.pk, "kind": "differentiable", "upload": bad, "mean": "0.5", "std": "0.5"})
    assert response.status_code == 200 and "returns 3 logits" in response.content.decode()
    assert not RegisteredModel.objects.exists()
    good = SimpleUploadedFile("m.pt2", files["export"].read_bytes())
    response = admin_client.post("/admin/explainers/registeredmodel/add/", {
        "name": "cnn", "dataset": dataset.pk, "kind": "differentiable", "upload": good, "mean": "0.5", "std": "0.5"})
    assert response.status_code == 302 and RegisteredModel.objects.get().accuracy is not None
    response = admin_client.post("/admin/explainers/stimulusset/add/", {
        "name": "cam", "model": RegisteredModel.objects.get().pk, "method": "counterfactual_interpolation",
        "parameters": "{}", "seed": 0, "split": "test", "count": 3})
    assert response.status_code == 200 and "cannot fill a per-image stimulus set" in response.content.decode()
    assert not StimulusGrid.objects.exists()
