"""The progressive-exaggeration explainer: networks, losses, the GAN loop, checkpoints and the method."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from explainers.core.errors import CheckpointError
from explainers.core.methods import MethodError, method_config, method_get
from explainers.core.methods.gradients import logit_function
from explainers.core.nets.cnn import CNNClassifier, CNNConfig
from explainers.core.nets.exaggeration import ExaggerationConfig, ExaggerationNet, ordinal_targets
from explainers.core.nets.glow import NetConfigError
from explainers.core.training.checkpoints import checkpoint_read
from explainers.core.training.exaggeration import (
    ExaggerationTrainingError, bernoulli_kl, class_log_probabilities, compatibility_kl, explainer_preset,
)
from explainers.core.training.exaggeration_loop import explainer_train_to_checkpoint, train_explainer

NET = ExaggerationConfig(image_size=16, channels=4, levels=2, num_bins=4)


def classifier(seed: int = 0, size: int = 16) -> CNNClassifier:
    torch.manual_seed(seed)
    return CNNClassifier(CNNConfig(image_size=size, width=4, blocks=2, feature_dim=8)).eval()


def tiny_data(n: int = 24, size: int = 16) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, n)
    return {"train_images": images, "train_labels": labels, "val_images": images[:8], "val_labels": labels[:8]}


@pytest.fixture(scope="module")
def trained():
    config = explainer_preset("exaggeration-tiny", steps=3)
    f = classifier()
    return config, f, train_explainer(config, f, data=tiny_data())


def test_shapes_and_bins():
    net = ExaggerationNet(NET).eval()
    x = torch.rand(3, 3, 16, 16)
    c = torch.tensor([0, 2, 3])
    assert net.encode(x).shape == (3, NET.width(2), 4, 4)
    with torch.no_grad():
        out = net(x, c)
    assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    assert net.discriminate(x, c).shape == (3,)
    # c_f(x, delta): the bin of f(x) + delta, clipped to [0, 1]
    bins = net.condition(torch.tensor([0.1, 0.3, 0.9, 0.6]), torch.tensor([0.0, 0.3, 0.5, -0.7]))
    assert bins.tolist() == [0, 2, 3, 0]
    with pytest.raises(NetConfigError, match="16x16"):
        net.encode(torch.rand(1, 3, 32, 32))
    with pytest.raises(NetConfigError, match="target_class"):
        ExaggerationConfig(target_class=2, classifier_classes=2)


def test_conditional_batch_norm_uses_the_condition():
    net = ExaggerationNet(NET).eval()
    with torch.no_grad():
        for block in net.generator_blocks:
            block.norm1.gamma.weight.normal_(1.0, 0.5)
            block.norm1.beta.weight.normal_(0.0, 0.5)
    z = net.encode(torch.rand(2, 3, 16, 16))
    low, high = net.decode(z, torch.tensor([0, 0])), net.decode(z, torch.tensor([3, 3]))
    assert (low - high).abs().max() > 1e-3
    assert torch.allclose(net.decode(z, torch.tensor([3, 3])), high)


def test_ordinal_head_is_the_frank_and_hall_sum_of_binary_terms():
    assert ordinal_targets(torch.tensor([0, 1, 3]), 4).tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 1]]
    net = ExaggerationNet(NET).eval()
    x = torch.rand(4, 3, 16, 16)
    with torch.no_grad():
        phi = net.features(x)
        v = net.ordinal.weight           # (K-1) x D, spectrally normalised as used
        psi = net.psi(phi).squeeze(1)
        # hand-computed D(x, c) = psi(phi) + sum_{i=1}^{c} v_i^T phi, for c = 0, 1, 2, 3
        expected = torch.stack([psi, psi + phi[0:4] @ v[0], psi + phi @ v[0] + phi @ v[1],
                                psi + phi @ v[0] + phi @ v[1] + phi @ v[2]], dim=1)
        for c in range(4):
            got = net.discriminate(x, torch.full((4,), c))
            assert torch.allclose(got, expected[:, c], atol=1e-4)


def test_kl_term_is_zero_when_the_posteriors_match_and_positive_otherwise():
    q = torch.tensor([0.0, 0.3, 0.95, 1.0])
    p = torch.tensor([1e-9, 0.3, 0.95, 1 - 1e-9])
    kl = bernoulli_kl(q, torch.log(p), torch.log1p(-p))
    assert torch.allclose(kl, torch.zeros(4), atol=1e-6)
    assert float(bernoulli_kl(torch.tensor(0.5), torch.log(torch.tensor(0.9)), torch.log(torch.tensor(0.1)))) == \
        pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
    logits = torch.tensor([[0.0, math.log(3.0)]])  # P(class 1) = 0.75
    log_p, log_not_p = class_log_probabilities(logits, 1)
    assert float(log_p.exp()) == pytest.approx(0.75) and float(log_not_p.exp()) == pytest.approx(0.25)
    assert float(compatibility_kl(lambda x: logits, torch.zeros(1), torch.tensor([0.75]), 1)) == \
        pytest.approx(0.0, abs=1e-6)


def test_training_records_the_classifier_and_history(trained):
    config, f, state = trained
    assert state.step == 3 and [h["step"] for h in state.history] == [2, 3]
    assert {"d_loss", "kl", "reconstruction", "cycle", "val_correlation"} <= set(state.history[-1])
    state.model.check_classifier(logit_function(f))
    with pytest.raises(NetConfigError, match="another classifier"):
        state.model.check_classifier(logit_function(classifier(seed=1)))
    assert all(p.requires_grad for p in f.parameters())  # the classifier is given back unfrozen


def test_invalid_training_configurations_fail_clearly():
    with pytest.raises(ExaggerationTrainingError, match="lambda_f"):
        explainer_preset("exaggeration-tiny", lambda_f=-1.0)
    with pytest.raises(ExaggerationTrainingError, match="discriminator_steps"):
        explainer_preset("exaggeration-tiny", discriminator_steps=0)
    with pytest.raises(ExaggerationTrainingError, match="unknown preset"):
        explainer_preset("exaggeration-huge")


def test_checkpoint_resume_continues_the_step_count_and_corruption_is_refused(tmp_path):
    f = classifier()
    data = tiny_data()
    config = replace(explainer_preset("exaggeration-tiny", steps=2), classifier_sha256="a" * 64)
    out = tmp_path / "explainer.pt"
    first = explainer_train_to_checkpoint(config, f, out, data_loader=lambda c, d: data)
    assert first.step == 2 and first.metrics["classifier_sha256"] == "a" * 64
    resumed = explainer_train_to_checkpoint(replace(config, steps=3), f, out, resume=True,
                                            data_loader=lambda c, d: data)
    assert resumed.step == 3 and [h["step"] for h in resumed.history] == [2, 3]
    with pytest.raises(CheckpointError, match="explains classifier"):
        explainer_train_to_checkpoint(replace(config, steps=4, classifier_sha256="b" * 64), f, out, resume=True,
                                      data_loader=lambda c, d: data)
    with pytest.raises(NetConfigError, match="another classifier"):
        explainer_train_to_checkpoint(replace(config, steps=4), classifier(seed=2), out, resume=True,
                                      data_loader=lambda c, d: data)
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    out.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupt or was changed"):
        checkpoint_read(out)


def test_method_config_validates_deltas_and_steps():
    assert method_config("progressive_exaggeration", {"deltas": [-1, 0, 0.5]}).deltas == (-1.0, 0.0, 0.5)
    with pytest.raises(MethodError, match=r"\[-1, 1\]"):
        method_config("progressive_exaggeration", {"deltas": [0.2, 1.5]})
    with pytest.raises(MethodError, match="steps"):
        method_config("progressive_exaggeration", {"steps": 1})
    with pytest.raises(MethodError, match="explainer_model"):
        method_config("progressive_exaggeration", {"explainer_model": "x"})
    cls = method_get("progressive_exaggeration")
    assert cls.output == "images" and cls.auxiliary == ("explainer",)


def test_method_explains_rows_and_refuses_other_sizes_and_classifiers(trained):
    _, f, state = trained
    method = method_get("progressive_exaggeration")
    explainer = method(method_config("progressive_exaggeration", {"steps": 4}))
    images = tiny_data()["val_images"][:3]
    result = explainer.explain(f, images, auxiliaries={"explainer": state.model})
    assert result.images.shape == (3, 4, 3, 16, 16) and result.logits.shape == (3, 4)
    assert [c["requested"] for c in result.columns] == [0.125, 0.375, 0.625, 0.875]
    assert result.extra["bins"].tolist() == [[0, 1, 2, 3]] * 3
    assert result.extra["network_evaluations"] == 3 * 2 * 5
    shifted = method(method_config("progressive_exaggeration", {"deltas": [-1.0, 1.0]}))
    ends = shifted.explain(f, images, auxiliaries={"explainer": state.model})
    assert ends.extra["bins"].tolist() == [[0, 3]] * 3 and ends.columns[0]["delta"] == -1.0
    with pytest.raises(MethodError, match="16x16"):
        explainer.explain(f, torch.rand(2, 3, 32, 32), auxiliaries={"explainer": state.model})
    with pytest.raises(MethodError, match="another classifier"):
        explainer.explain(classifier(seed=3), images, auxiliaries={"explainer": state.model})
    with pytest.raises(MethodError, match="auxiliary model 'explainer'"):
        explainer.explain(f, images, auxiliaries={})


def test_rows_fill_a_per_image_stimulus_set_through_the_shared_builder(trained):
    from explainers.core.stimuli.explanation_set import build_explanation_set

    _, f, state = trained
    data = tiny_data()
    result, maps = build_explanation_set(f, data["val_images"][:2], data["val_labels"][:2],
                                         method="progressive_exaggeration", parameters={"steps": 3},
                                         class_names=["sticky", "stretchy"], source_indices=[0, 1],
                                         auxiliaries={"explainer": state.model})
    assert maps is None and len(result.cells) == 2 * 4
    generated = [cell for cell in result.cells if not cell.is_original]
    assert {cell.column for cell in generated} == {1, 2, 3}
