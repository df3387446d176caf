"""Training service, checkpoint files (sha256, clear errors) and the train_model command."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command

from explainers.core.errors import CheckpointError
from explainers.core.training.glow import TrainConfig, TrainingError, preset
from explainers.models import Checkpoint, Dataset
from explainers.services.checkpoints import checkpoint_load, checkpoint_register
from explainers.services.training import model_train

TINY = {"preset": "quick", "image_size": 16, "steps": 4, "train_size": 64, "val_size": 32}


@pytest.fixture
def trained(tmp_path):
    return model_train(out=tmp_path / "tiny.pt", **TINY)


def test_training_writes_a_checkpoint_with_config_metrics_dataset_and_sha256(trained, tmp_path):
    path = tmp_path / "tiny.pt"
    loaded = checkpoint_load(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.config.image_size == 16 and loaded.config.steps == 4 and loaded.step == 4
    assert 0.0 <= loaded.metrics["val_accuracy"] <= 1.0 and loaded.metrics["val_bits_per_dim"] > 0
    assert loaded.dataset == {"kind": "two4two", "sampler": "study", "seed": 0, "size": 16, "train_size": 64,
                              "val_size": 32, "val_seed": loaded.config.val_seed, "label_noise": 0.0}
    assert not loaded.model.training
    x = torch.rand(2, 3, 16, 16)
    assert (loaded.model.decode(loaded.model.encode(x)) - x).abs().max() < 1e-4


def test_training_is_deterministic_for_its_seeds(trained, tmp_path):
    again = model_train(out=tmp_path / "again.pt", **TINY)
    for (name, a), b in zip(trained.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_resume_continues_from_the_stored_step(trained, tmp_path):
    resumed = model_train(out=tmp_path / "tiny.pt", resume=True, **{**TINY, "steps": 6})
    assert resumed.step == 6 and resumed.sha256 != trained.sha256


def test_resume_refuses_a_checkpoint_of_another_architecture(trained, tmp_path):
    with pytest.raises(CheckpointError, match="cannot resume"):
        model_train(out=tmp_path / "tiny.pt", resume=True, **{**TINY, "image_size": 32})


def test_a_changed_file_is_reported_as_corrupt(trained, tmp_path):
    path = tmp_path / "tiny.pt"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or was changed"):
        checkpoint_load(path)


def test_a_truncated_file_without_sidecar_cannot_be_read(trained, tmp_path):
    path = tmp_path / "tiny.pt"
    path.write_bytes(path.read_bytes()[:1000])
    (tmp_path / "tiny.pt.sha256").unlink()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint_load(path)


def test_weights_of_another_architecture_are_rejected(trained, tmp_path):
    payload = torch.load(tmp_path / "tiny.pt", weights_only=True)
    payload["config"]["net"]["hidden_channels"] = 8
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not match the recorded architecture"):
        checkpoint_load(tmp_path / "mismatch.pt")


def test_a_foreign_file_and_a_missing_file_are_rejected(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a studyserver.glow_linear.v1 file"):
        checkpoint_load(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint_load(tmp_path / "nothing.pt")


@pytest.mark.django_db
def test_register_creates_the_rows_once_per_sha256(trained, tmp_path, django_user_model):
    owner = django_user_model.objects.create_user("researcher")
    first = checkpoint_register(path=tmp_path / "tiny.pt", name="tiny", owner=owner)
    second = checkpoint_register(path=tmp_path / "tiny.pt", name="tiny again")
    assert first.pk == second.pk and Checkpoint.objects.count() == 1 and Dataset.objects.count() == 1
    assert first.sha256 == trained.sha256 and first.metrics["val_accuracy"] == trained.metrics["val_accuracy"]
    assert first.dataset.kind == "two4two" and first.dataset.parameters["size"] == 16
    # the dataset row names its splits as every dataset does, so its held-out images can be read
    from explainers.services.datasets import dataset_arrays

    train_size, val_size = trained.config.train_size, trained.config.val_size
    assert first.dataset.splits == {"train": train_size, "val": val_size, "test": 0}
    images, labels = dataset_arrays(first.dataset, "val")
    assert images.shape == (val_size, 16, 16, 3) and len(labels) == val_size


@pytest.mark.django_db
def test_register_of_a_corrupt_file_creates_nothing(tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        checkpoint_register(path=tmp_path / "bad.pt", name="bad")
    assert Checkpoint.objects.count() == 0 and Dataset.objects.count() == 0


def test_train_model_command_prints_the_checkpoint_summary(tmp_path):
    out = io.StringIO()
    call_command("train_model", "--preset", "quick", "--size", "16", "--steps", "2", "--train-size", "32",
                 "--val-size", "16", "--out", str(tmp_path / "cmd.pt"), "--threads", "1", stdout=out,
                 stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert summary["metrics"]["steps"] == 2 and len(summary["sha256"]) == 64


def test_train_model_command_reports_bad_sizes_clearly(tmp_path):
    with pytest.raises(CommandError, match="divisible"):
        call_command("train_model", "--preset", "quick", "--size", "20", "--out", str(tmp_path / "x.pt"),
                     stdout=io.StringIO(), stderr=io.StringIO())


def test_invalid_training_configurations_fail_clearly():
    with pytest.raises(TrainingError, match="label_noise"):
        TrainConfig(label_noise=0.7)
    with pytest.raises(TrainingError, match="unknown preset"):
        preset("huge")
    with pytest.raises(TrainingError, match="unknown sampler"):
        preset("quick", sampler="fancy")


@pytest.mark.slow
def test_demo_preset_reaches_90_percent_validation_accuracy(tmp_path):
    loaded = model_train(out=tmp_path / "demo.pt", preset="demo", num_threads=2)
    assert loaded.metrics["val_accuracy"] >= 0.90
