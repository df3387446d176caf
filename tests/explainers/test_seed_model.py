"""The seed-faithful Two4Two model: presets, the detached classifier, devices and the shipped checkpoint."""
from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
import torch
from django.core.management import CommandError, call_command

from explainers.core.errors import CheckpointError
from explainers.core.training.checkpoints import checkpoint_read
from explainers.core.training.glow import PRESETS, TrainingError, _loss, preset
from explainers.core.training.loop import build_model, resolve_device
from explainers.core.training.shipped import SHIPPED_DIR, shipped_load, shipped_write
from explainers.services.training import model_train

TINY = {"preset": "quick", "image_size": 16, "steps": 3, "train_size": 48, "val_size": 16}


def test_the_seed_presets_read_a_low_resolution_latent_as_in_the_seed():
    seed64, seed128 = PRESETS["seed64"], PRESETS["seed128"]
    assert seed64.image_size >= 64 and seed64.detach_classifier
    assert seed64.net.classifier_shape[1] <= 2 and seed64.net.classifier_dim == 768  # 2x2x192
    assert seed128.net.classifier_shape == (768, 1, 1)  # the seed: 7 levels, 1x1x768
    supervised = PRESETS["seed64-supervised"]
    assert not supervised.detach_classifier and 0 < supervised.classifier_weight < 1
    assert supervised.net == seed64.net


def _gradients(config, x, y):
    model = build_model(config)
    model.train()
    model(x)  # actnorm's data-dependent initialisation
    model.zero_grad()
    loss, _ = _loss(model, x, y, config)
    loss.backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_a_detached_classifier_leaves_the_flow_to_the_flow_objective():
    config = replace(preset("quick", image_size=16), detach_classifier=True)
    torch.manual_seed(0)
    x, y = torch.rand(8, 3, 16, 16), torch.tensor([0.0, 1.0] * 4)
    strong = _gradients(replace(config, classifier_weight=50.0), x, y)
    weak = _gradients(replace(config, classifier_weight=0.0), x, y)
    flow = [name for name in strong if not name.startswith("classifier.")]
    assert flow and all(torch.allclose(strong[n], weak[n]) for n in flow)  # the BCE never reaches the flow
    assert strong["classifier.weight"].abs().sum() > 0  # but trains the classifier
    supervised = _gradients(replace(config, detach_classifier=False, classifier_weight=50.0), x, y)
    assert any(not torch.allclose(supervised[n], weak[n]) for n in flow)


def test_devices_resolve_and_a_missing_gpu_is_a_clear_error():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown torch device"):
        resolve_device("abacus")


def test_train_model_names_unknown_presets_and_devices(tmp_path):
    with pytest.raises(CommandError, match="unknown preset 'seed32'.*seed64"):
        call_command("train_model", "--preset", "seed32", "--out", str(tmp_path / "x.pt"), stdout=io.StringIO(),
                     stderr=io.StringIO())
    with pytest.raises(CommandError, match="unknown torch device"):
        call_command("train_model", "--preset", "quick", "--size", "16", "--steps", "1", "--train-size", "16",
                     "--val-size", "16", "--device", "abacus", "--out", str(tmp_path / "y.pt"),
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()


def test_a_shipped_checkpoint_loads_verified_and_refuses_a_changed_file(tmp_path):
    trained = model_train(out=tmp_path / "run.pt", **TINY, device="cpu")
    assert trained.metrics["device"] == "cpu"
    folder = tmp_path / "shipped"
    path = shipped_write(trained, "tiny", command="manage.py train_model --preset quick", directory=folder)
    record = json.loads((folder / "tiny.json").read_text())
    assert record["sha256"] == checkpoint_read(path).sha256 and record["command"].startswith("manage.py")
    assert path.stat().st_size < (tmp_path / "run.pt").stat().st_size  # no optimizer state
    loaded = shipped_load("tiny", wanted_config=trained.config.to_dict(), directory=folder)
    assert loaded.sha256 == record["sha256"]
    for p_loaded, p_trained in zip(loaded.model.parameters(), trained.model.parameters()):
        assert torch.equal(p_loaded, p_trained)
    assert shipped_load("absent", directory=folder) is None
    with pytest.raises(CheckpointError, match="another configuration"):
        shipped_load("tiny", wanted_config={**trained.config.to_dict(), "steps": 99}, directory=folder)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(CheckpointError, match="sha256 .* records .*corrupt or was replaced"):
        shipped_load("tiny", directory=folder)


def test_the_project_ships_the_demo_model_with_its_recipe():
    record = json.loads((SHIPPED_DIR / "two4two-seed64.json").read_text())
    path = SHIPPED_DIR / record["file"]
    assert path.stat().st_size <= 25 * 2 ** 20
    loaded = shipped_load("two4two-seed64", wanted_config=PRESETS["seed64"].to_dict())
    assert loaded.sha256 == record["sha256"] and "train_model --preset seed64" in record["command"]
    assert loaded.metrics["val_accuracy"] >= 0.8


def test_a_checkpoint_of_another_resolution_is_refused_by_the_model():
    model = build_model(preset("quick", image_size=16))
    with pytest.raises(Exception, match="this model takes 16 px"):
        model.encode(torch.rand(1, 3, 32, 32))


@pytest.mark.slow
def test_the_weighted_supervised_variant_trains(tmp_path):
    loaded = model_train(out=tmp_path / "s.pt", preset="seed64-supervised", steps=5, train_size=64, val_size=32)
    assert loaded.config.classifier_weight == PRESETS["seed64-supervised"].classifier_weight


def test_an_unknown_preset_is_a_training_error():
    with pytest.raises(TrainingError, match="unknown preset"):
        preset("seed256")
