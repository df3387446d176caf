"""Methods that generate images (a row per input) fill per-image stimulus sets, with the auxiliary models they use
(a generator, an explainer, an ensemble) checked before anything is stored and loaded by the worker."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from django.core.exceptions import ValidationError

from explainers.core import pixels
from explainers.core.methods import registry
from explainers.core.methods._base import Explanation
from explainers.core.methods.registry import MethodError, register_method
from explainers.core.stimuli.explanation_set import build_explanation_set, per_image_methods
from explainers.core.training.checkpoints import sha256_file
from explainers.models import RegisteredModel, StimulusGrid
from explainers.services.auxiliary_models import auxiliary_models_check
from explainers.services.classifiers import model_register
from explainers.services.datasets import dataset_import
from explainers.services.stimulus_sets import stimulus_set_create, stimulus_set_images
from tests.explainers.researcher_assets import cnn_files, digits_zip

ROW = "test_generated_row"


@dataclass(frozen=True)
class RowConfig:
    generator_model: int | None = None
    shift: float = 0.1

    def __post_init__(self):
        if not 0 < self.shift <= 0.5:
            raise ValueError(f"shift must lie in (0, 0.5], got {self.shift!r}")


class GeneratedRow:
    """[the image | the generator's image | the image shifted]: enough to see every column land in its cell."""

    Config = RowConfig
    output = "images"

    def __init__(self, config: RowConfig):
        self.config = config

    def explain(self, model, images, *, auxiliaries):
        generated = auxiliaries["generator"](images).clamp(0, 1)
        row = torch.stack([images, generated, (images + self.config.shift).clamp(0, 1)], dim=1)
        served = pixels.to_tensor(pixels.to_uint8(row.flatten(0, 1)), images.dtype)
        with torch.no_grad():
            scored = model(served)
        logits = scored.reshape(row.shape[0], row.shape[1], -1).max(-1).values
        return Explanation(images=row, logits=logits, rows=[{} for _ in range(len(images))],
                           columns=[{"label": "Same", "step": 0}, {"label": "Generated", "step": 1}, {"step": 2}],
                           extra={"network_evaluations": 3 * len(images),
                                  "sentence": [f"row {i}" for i in range(len(images))]})


@pytest.fixture
def row_method():
    register_method(ROW, auxiliary=("generator",))(GeneratedRow)
    yield ROW
    registry._REGISTRY.pop(ROW, None)


def test_a_method_using_a_model_it_does_not_name_in_its_config_is_refused():
    @dataclass(frozen=True)
    class NoField:
        shift: float = 0.1

    class Broken:
        Config = NoField
        output = "images"

    with pytest.raises(MethodError, match="generator_model"):
        register_method("test_broken_row", auxiliary=("generator",))(Broken)
    with pytest.raises(MethodError, match="unknown auxiliary"):
        register_method("test_broken_row", auxiliary=("oracle",))(Broken)
    assert "test_broken_row" not in registry._REGISTRY


def test_generated_rows_become_cells_with_served_logits_columns_and_row_texts(row_method):
    assert row_method in per_image_methods()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    invert = lambda x: 1 - x  # noqa: E731
    result, maps = build_explanation_set(
        model, images, np.array([0, 1, 0, 1, 0]), method=row_method, parameters={"generator_model": 7},
        class_names=["a", "b"], source_indices=[10, 11, 12, 13, 14], batch_size=2,
        auxiliaries={"generator": invert})
    assert maps is None and result.labels == ["Image", "Same", "Generated", "Step 3"]
    assert len(result.cells) == 5 * 4 and result.network_evaluations == {"forward": 5 + 15}
    cell = next(c for c in result.cells if c.row == 3 and c.column == 2)
    # batches of 2: row 3 is the second image of the second batch the method saw
    assert np.array_equal(cell.image, 255 - images[3]) and cell.parameters["sentence"] == "row 1"
    assert cell.parameters["step"] == 1 and cell.parameters["role"] == "explanation" and cell.source_index == 13
    served = pixels.to_tensor(cell.image[None], torch.float32)
    assert cell.logit == pytest.approx(float(model(served).max()), abs=1e-5)
    with pytest.raises(ValueError, match="generator"):
        build_explanation_set(model, images, np.zeros(5, int), method=row_method, parameters={},
                              class_names=["a", "b"], source_indices=list(range(5)), auxiliaries={})


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_user("ada", is_staff=True)


@pytest.fixture
def classifier(researcher, tmp_path):
    dataset = dataset_import(owner=researcher, source=digits_zip(tmp_path / "d.zip"), name="digits")
    return model_register(owner=researcher, source=cnn_files(tmp_path / "cnn")["export"], name="cnn",
                          dataset=dataset, mean=[0.5], std=[0.5], evaluate=False)


def _generator(owner, classifier, tmp_path, settings, **changes) -> RegisteredModel:
    """A registered generator (a TorchScript network that inverts the image), stored as registration does."""
    network = torch.jit.script(torch.nn.Sequential(torch.nn.Identity()))
    path = tmp_path / "gen.pt"
    torch.jit.save(network, str(path))
    relative = "models/generator-test.pt"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(path.read_bytes())
    fields = dict(owner=owner, name="generator", kind=RegisteredModel.Kind.GENERATOR, file_format="torchscript",
                  dataset=classifier.dataset, file=relative, sha256=sha256_file(target),
                  input_shape=list(classifier.input_shape), normalisation={"mean": [0.0], "std": [1.0]},
                  class_names=list(classifier.class_names), capabilities=["generator"])
    fields.update(changes)
    return RegisteredModel.objects.create(**fields)


@pytest.mark.django_db
def test_auxiliary_models_are_checked_before_anything_is_stored(row_method, researcher, classifier, tmp_path,
                                                                 settings, django_user_model):
    stranger = django_user_model.objects.create_user("mallory", is_staff=True)
    cases = {
        "needs a generative model": {},
        "no registered model 999": {"generator_model": 999},
        "positive whole number": {"generator_model": "one"},
    }
    theirs = _generator(stranger, classifier, tmp_path, settings)
    cases["of yours"] = {"generator_model": theirs.pk}
    cases["differentiable black box model"] = {"generator_model": classifier.pk}
    other_size = _generator(researcher, classifier, tmp_path, settings, input_shape=[1, 16, 16])
    cases["takes images of shape [1, 16, 16]"] = {"generator_model": other_size.pk}
    other_model = _generator(researcher, classifier, tmp_path, settings,
                             metrics={"explains": {"id": 1, "name": "another cnn", "sha256": "0" * 64}})
    cases["trained to explain model 'another cnn'"] = {"generator_model": other_model.pk}
    for words, parameters in cases.items():
        with pytest.raises(ValidationError) as caught:
            stimulus_set_create(owner=researcher, model=classifier, method=row_method, parameters=parameters)
        assert words in str(caught.value), (words, caught.value)
    assert not StimulusGrid.objects.exists()
    own = _generator(researcher, classifier, tmp_path, settings,
                     metrics={"explains": {"id": classifier.pk, "sha256": classifier.sha256}})
    found = auxiliary_models_check(owner=researcher, model=classifier, method=row_method,
                                   config={"generator_model": own.pk})
    assert found == {"generator": [own]}


@pytest.mark.django_db
def test_a_generated_set_is_published_through_the_worker_with_its_auxiliary_model(
        row_method, researcher, classifier, tmp_path, settings, django_capture_on_commit_callbacks):
    generator = _generator(researcher, classifier, tmp_path, settings)
    with django_capture_on_commit_callbacks(execute=True):
        created = stimulus_set_create(owner=researcher, model=classifier, method=row_method, count=3,
                                      parameters={"generator_model": generator.pk, "shift": 0.2})
    created.refresh_from_db()
    assert created.status == "ready", created.error
    images = stimulus_set_images(created)
    assert len(images) == 3 * 4 and sum(image["is_original"] for image in images) == 3
    manifest = json.loads((Path(settings.MEDIA_ROOT) / created.directory / "manifest.json").read_text())
    assert manifest["auxiliary_models"]["generator"][0]["sha256"] == generator.sha256
    generated = [image for image in images if image["column"] == 2]
    assert all(image["metadata"]["sentence"].startswith("row ") for image in generated)
