"""IB-INN style classifier: invertibility, the linear two-class view, loss, training and checkpoints."""
from __future__ import annotations

import math

import pytest
import torch

from explainers.core.errors import CheckpointError
from explainers.core.nets.glow import NetConfigError
from explainers.core.nets.ibinn import IBINNClassifier, IBINNConfig, ib_loss
from explainers.core.training.checkpoints import checkpoint_read as ibinn_checkpoint_read
from explainers.core.training.ibinn import IBINNTrainingError, ibinn_preset
from explainers.core.training.loop import evaluate as ibinn_evaluate
from explainers.core.training.run import train_to_checkpoint as ibinn_train_to_checkpoint
from tests.explainers.ibinn_tiny import digits_data, tiny_digits_model


def test_round_trip_and_logits_are_negative_half_squared_distances_plus_log_prior():
    model = tiny_digits_model()
    x = torch.rand(5, 1, 8, 8, dtype=torch.float64)
    z = model.encode(x).z
    assert (model.decode(model.encode(x)) - x).abs().max() < 1e-9
    expected = -0.5 * torch.cdist(z, model.mu) ** 2 + torch.log_softmax(model.phi, 0)
    assert torch.allclose(model.class_logits(x), expected, atol=1e-8)


def test_two_class_log_odds_is_linear_in_z_with_w_equal_mu1_minus_mu0():
    torch.manual_seed(0)
    model = IBINNClassifier(IBINNConfig(image_size=8, in_channels=3, num_classes=2, levels=1, steps_per_level=1,
                                        hidden_channels=4, dense_steps=1, dense_hidden=8)).double().eval()
    with torch.no_grad():
        model.phi.copy_(torch.tensor([0.3, -0.2]))
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    logits = model.class_logits(x)
    assert torch.allclose(model.logit(x), logits[:, 1] - logits[:, 0], atol=1e-8)
    assert torch.allclose(model.weight, model.mu[1] - model.mu[0])
    with pytest.raises(NetConfigError, match="10 classes"):
        tiny_digits_model().weight


def test_ib_loss_weights_the_terms_by_beta():
    model = tiny_digits_model()
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    y = torch.arange(6)
    out = model(x)
    _, parts = ib_loss(out, y, 1.0)
    for beta in (0.5, 2.0):
        loss, _ = ib_loss(out, y, beta)
        expected = 2 / (1 + beta) * parts["l_x"] - 2 * beta / (1 + beta) * parts["l_y"]
        assert math.isclose(float(loss.detach()), expected, rel_tol=1e-9)


def test_tiny_digits_model_learns_and_stores_predicted_class_means():
    model = tiny_digits_model()
    data = digits_data()
    metrics = ibinn_evaluate(model, data["test_images"], data["test_labels"], prefix="test")
    assert metrics["test_accuracy"] > 0.8  # 80 steps on 8×8 digits; chance is 0.1
    assert model.has_predicted_class_means
    assert model.predicted_class_counts.sum() == len(data["train_images"])


def test_config_rejects_mismatched_dataset_and_network():
    with pytest.raises(IBINNTrainingError, match="10 classes"):
        ibinn_preset("digits", net=IBINNConfig(num_classes=2))
    with pytest.raises(IBINNTrainingError, match="unknown preset"):
        ibinn_preset("mnist")
    with pytest.raises(NetConfigError, match="divisible"):
        IBINNConfig(image_size=10, levels=2)


def test_checkpoint_round_trip_and_clear_errors(tmp_path):
    config = ibinn_preset("digits-quick", steps=2, image_size=8, net=IBINNConfig(
        image_size=8, levels=1, steps_per_level=1, hidden_channels=4, dense_steps=1, dense_hidden=8))
    path = tmp_path / "ib.pt"
    loaded = ibinn_train_to_checkpoint(config, path)
    assert loaded.model.architecture == "ibinn" and loaded.dataset["kind"] == "digits"
    again = ibinn_checkpoint_read(path)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(again.model.class_logits(x), loaded.model.class_logits(x))
    assert again.model.has_predicted_class_means

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or was changed"):
        ibinn_checkpoint_read(path)
    path.with_name("ib.pt.sha256").unlink()
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ibinn_checkpoint_read(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        ibinn_checkpoint_read(tmp_path / "missing.pt")


def test_checkpoint_load_service_dispatches_ibinn_and_glow_files(tmp_path):
    from explainers.services.checkpoints import checkpoint_load

    config = ibinn_preset("digits-quick", steps=1, net=IBINNConfig(
        image_size=8, levels=1, steps_per_level=1, hidden_channels=4, dense_steps=0, dense_hidden=8))
    ibinn_train_to_checkpoint(config, tmp_path / "ib.pt")
    assert checkpoint_load(tmp_path / "ib.pt").model.architecture == "ibinn"
    torch.save({"format": "something.else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a studyserver.glow_linear.v1 file"):
        checkpoint_load(tmp_path / "other.pt")
