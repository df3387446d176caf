"""The plain black-box CNN, its model family and presets, and train_model / registration for any family."""
from __future__ import annotations

import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command

from explainers.core.methods.gradients import logit_function
from explainers.core.nets.cnn import CNNClassifier, CNNConfig
from explainers.core.nets.glow import NetConfigError
from explainers.core.training.cnn import CNN_PRESETS, CNNTrainConfig, CNNTrainingError
from explainers.core.training.families import FAMILIES, PresetError, all_presets, family_of_preset, preset_config
from explainers.models import RegisteredModel
from explainers.services.checkpoints import checkpoint_load


def test_cnn_shapes_features_and_config_round_trip():
    config = CNNConfig(image_size=16, width=4, blocks=2, feature_dim=8, num_classes=3)
    net = CNNClassifier(config).eval()
    x = torch.rand(5, 3, 16, 16)
    assert net(x).shape == (5, 3) and net.features(x).shape == (5, 8)
    assert torch.equal(net.logit(x), net(x)) and logit_function(net)(x).shape == (5, 3)
    assert CNNConfig.from_dict(config.to_dict()) == config
    # GroupNorm, not BatchNorm: an image's logits do not depend on the rest of the batch.
    assert torch.allclose(net(x[:1]), net(x)[:1], atol=1e-5)


def test_cnn_refuses_bad_configs_and_images():
    with pytest.raises(NetConfigError, match="divisible"):
        CNNConfig(image_size=20, blocks=3)
    with pytest.raises(NetConfigError, match="num_classes"):
        CNNConfig(num_classes=1)
    with pytest.raises(NetConfigError, match="unknown network configuration key"):
        CNNConfig.from_dict({"depth": 3})
    with pytest.raises(NetConfigError, match="expected images"):
        CNNClassifier(CNNConfig(image_size=16, blocks=2))(torch.rand(1, 3, 32, 32))
    with pytest.raises(CNNTrainingError, match="10 classes"):
        CNNTrainConfig(dataset="digits")


def test_presets_are_unique_across_families_and_unknown_names_list_them_all():
    names = all_presets()
    assert sum(len(family.presets) for family in FAMILIES) == len(names)
    assert {"cnn-two4two-biased", "cnn-two4two-unbiased", "cnn-two4two-oracle", "cnn-digits", "seed64",
            "digits"} <= set(names)
    assert family_of_preset("cnn-two4two-biased").registered_kind == "differentiable"
    assert family_of_preset("seed64").registered_kind == "invertible"
    assert CNN_PRESETS["cnn-two4two-biased"].sampler == "study"
    assert CNN_PRESETS["cnn-two4two-unbiased"].sampler == "unbiased"
    with pytest.raises(PresetError, match="unknown preset 'cnn-huge'.*cnn-two4two-biased.*seed64"):
        preset_config("cnn-huge")
    with pytest.raises(PresetError, match="no setting classifier_weight"):
        preset_config("cnn-tiny", classifier_weight=1.0)
    assert preset_config("cnn-tiny", sampler="unbiased", steps=None).sampler == "unbiased"


@pytest.mark.django_db
def test_train_model_trains_a_cnn_preset_and_registers_it_as_a_differentiable_model(tmp_path):
    out = io.StringIO()
    call_command("train_model", "--preset", "cnn-tiny", "--out", str(tmp_path / "cnn.pt"), "--threads", "1",
                 "--register", "tiny cnn", stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert summary["metrics"]["steps"] == 6 and summary["model_kind"] == "differentiable"
    model = RegisteredModel.objects.get(pk=summary["model_id"])
    assert model.kind == RegisteredModel.Kind.DIFFERENTIABLE and model.file_format == "checkpoint"
    assert model.capabilities == ["gradients", "layers"] and "invertible" not in model.capabilities
    assert model.accuracy == pytest.approx(summary["metrics"]["val_accuracy"])
    assert model.input_shape == [3, 16, 16] and model.class_names == ["sticky", "stretchy"]
    loaded = checkpoint_load(tmp_path / "cnn.pt")
    assert isinstance(loaded.model, CNNClassifier) and loaded.dataset["sampler"] == "study"

    from explainers.services.classifiers import classifier_load

    network = classifier_load(model)
    assert network(torch.rand(2, 3, 16, 16)).shape == (2, 2)


def test_train_model_refuses_a_dataset_the_preset_cannot_train_on(tmp_path):
    with pytest.raises(CommandError, match="10 classes"):
        call_command("train_model", "--preset", "cnn-tiny", "--dataset", "digits", "--out",
                     str(tmp_path / "x.pt"), stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / "x.pt").exists()
