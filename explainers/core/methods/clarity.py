"""Clarity: counterfactuals by gradient descent in a VAE's latent space under a latent-space ensemble.

Theobald et al., "Clarity: an improved gradient method for producing quality visual counterfactual
explanations" (seeds/clarity-latent-counterfactuals.txt), Algorithm 1 and eq. 6:
  z = mu(X) (the posterior mean: deterministic), z' = z; while (1/M) sum_m p_m(y'|z') <= gamma and i <= N:
  z' <- opt(z', grad[(1/M) sum_m CE(C_m(z'), y') + lambda d(z, z')]); return X' = G(z').
The C_m are M small classifiers trained *in the latent space* (section 5: "an input layer of size 16, two
dense layers of size 16 with ReLU activation, and the final output layer"), optionally with adversarial
training (the paper trains all its classifiers adversarially; here FGSM in the latent space, Goodfellow et
al. 2015, on half of each batch when ``adversarial_epsilon`` > 0).

Clarity in the paper *is* the classifier. The platform explains a given classifier C, so the latent
ensemble is trained to imitate it: on latent codes with C's predicted labels. With ``reference_images``
(the comparison passes the classifier's training images) the codes are their posterior means mu(x) labelled
C(x), as the paper trains on encoded data; a stimulus set passes only the images it explains, so there the
codes are draws from the VAE prior N(0, I) (the distribution its aggregate posterior is trained to match)
labelled C(G(z)), i.e. the ensemble imitates C on the decoder's images. Either way the ensemble is trained
once per (VAE weights, classifier weights, data, ensemble settings) and kept in a small per-process cache
keyed by their sha256 (:func:`latent_ensemble_for`), so a stimulus set or a comparison trains it once; it
is seconds of CPU, so nothing is written to disk.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _counterfactual_search as cs
from ._base import images_to_tensor, int_between, positive_int
from .gradients import logit_function
from .registry import MethodError, register_method


class LatentEnsemble(nn.Module):
    """M classifiers z -> logits, each Linear(d, h), ReLU, Linear(h, h), ReLU, Linear(h, K) (section 5)."""

    def __init__(self, members: int, latent_dim: int, num_classes: int, hidden: int = 16):
        super().__init__()
        self.members = nn.ModuleList(
            nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                          nn.Linear(hidden, num_classes)) for _ in range(members))

    def forward(self, z: Tensor) -> Tensor:
        """Logits M×N×K."""
        return torch.stack([member(z) for member in self.members])


def train_latent_ensemble(codes: Tensor, labels: Tensor, *, members: int, num_classes: int, hidden: int,
                          steps: int, epsilon: float, seed: int, batch_size: int = 128,
                          learning_rate: float = 1e-2) -> tuple[LatentEnsemble, float]:
    """Train each member on its own bootstrap-free shuffled minibatches (deep-ensemble style: different
    initialisation and data order, Lakshminarayanan et al. 2017); returns (ensemble, training accuracy)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    ensemble = LatentEnsemble(members, codes.shape[1], num_classes, hidden)
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=learning_rate)
    n = codes.shape[0]
    for _ in range(steps):
        index = torch.randint(0, n, (members, min(batch_size, n)), generator=generator)
        z, y = codes[index], labels[index]  # M×B×d, M×B
        if epsilon > 0:
            z_adv = z.clone().requires_grad_(True)
            loss = sum(F.cross_entropy(m(z_adv[i]), y[i]) for i, m in enumerate(ensemble.members))
            grad, = torch.autograd.grad(loss, z_adv)
            half = z.shape[1] // 2
            z = torch.cat([z[:, :half], (z + epsilon * grad.sign())[:, half:]], dim=1).detach()
        loss = sum(F.cross_entropy(m(z[i]), y[i]) for i, m in enumerate(ensemble.members))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    ensemble.eval()
    with torch.no_grad():
        accuracy = float((ensemble(codes).softmax(-1).mean(0).argmax(1) == labels).float().mean())
    return ensemble, accuracy


_CACHE: OrderedDict[str, tuple[LatentEnsemble, float]] = OrderedDict()
_CACHE_SIZE = 4


def _fingerprint(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, nn.Module):
            for name, tensor in sorted(part.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(part, Tensor):
            digest.update(part.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


@torch.no_grad()
def latent_training_set(generator, classifier, reference: Tensor | None, samples: int, seed: int,
                        batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """(codes, the classifier's labels): mu(x) and C(x) of reference images, else z ~ N(0, I) and C(G(z))."""
    forward = logit_function(classifier)
    device = next(generator.parameters()).device
    codes, labels = [], []
    if reference is not None:
        for start in range(0, len(reference), batch_size):
            x = reference[start:start + batch_size].to(device)
            codes.append(generator.encode(x)[0])
            labels.append(forward(x).argmax(1))
    else:
        g = torch.Generator().manual_seed(seed)
        for start in range(0, samples, batch_size):
            z = torch.randn(min(batch_size, samples - start), generator.config.latent_dim, generator=g).to(device)
            codes.append(z)
            labels.append(forward(generator.decode(z)).argmax(1))
    return torch.cat(codes).cpu(), torch.cat(labels).cpu()


def latent_ensemble_for(generator, classifier, config: "Clarity.Config", num_classes: int,
                        reference: Tensor | None = None) -> tuple[LatentEnsemble, float]:
    """The latent ensemble of (VAE, classifier, data, settings), trained once per process (sha256 key)."""
    key = _fingerprint(generator, classifier, reference, num_classes, config.ensemble_size, config.hidden,
                       config.training_steps, config.training_samples, config.adversarial_epsilon, config.seed)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    codes, labels = latent_training_set(generator, classifier, reference, config.training_samples, config.seed)
    present = sorted(set(labels.tolist()))
    if len(present) < 2:
        raise MethodError(f"clarity: the classifier predicts only class {present} on the latent training set; "
                          f"a latent ensemble cannot learn its decision boundary")
    trained = train_latent_ensemble(codes, labels, members=config.ensemble_size, num_classes=num_classes,
                                    hidden=config.hidden, steps=config.training_steps,
                                    epsilon=config.adversarial_epsilon, seed=config.seed)
    _CACHE[key] = trained
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return trained


@register_method("clarity", requires=("gradients",), auxiliary=("generator",))
class Clarity:
    """One row per image: [original | counterfactual G(z')] towards ``target``.

    ``lam`` weighs the latent proximity d(z, z') (``distance`` "l1" or "l2"); ``gamma`` is the target
    probability of the stopping rule, ``max_iterations`` its N, ``learning_rate`` Adam's step on z.
    """

    output = "images"

    @dataclass(frozen=True)
    class Config:
        generator_model: int | None = None
        target: str | int = cs.TARGET_OTHER
        ensemble_size: int = 5
        hidden: int = 16
        adversarial_epsilon: float = 0.1
        training_steps: int = 400
        training_samples: int = 4096
        lam: float = 0.001
        distance: str = "l1"
        gamma: float = 0.99
        max_iterations: int = 500
        learning_rate: float = 0.05
        seed: int = 0

        def __post_init__(self) -> None:
            if self.generator_model is None:
                raise ValueError("clarity needs a generator: set generator_model to a registered VAE")
            positive_int(self.generator_model, "generator_model", maximum=2 ** 62)
            cs.check_target(self.target)
            positive_int(self.ensemble_size, "ensemble_size", maximum=100)
            positive_int(self.hidden, "hidden", maximum=4096)
            cs.check_nonnegative(self.adversarial_epsilon, "adversarial_epsilon")
            positive_int(self.training_steps, "training_steps", maximum=100_000)
            positive_int(self.training_samples, "training_samples", maximum=1_000_000)
            cs.check_nonnegative(self.lam, "lam")
            cs.check_distance(self.distance)
            cs.check_gamma(self.gamma)
            positive_int(self.max_iterations, "max_iterations", maximum=100_000)
            cs.check_unit(self.learning_rate, "learning_rate", high=10.0)
            int_between(self.seed, "seed", 0, 2 ** 31)

    def __init__(self, config: "Clarity.Config"):
        self.config = config

    def explain(self, model, images, auxiliaries: dict | None = None, *,
                latent_ensemble: LatentEnsemble | None = None, reference_images=None):
        """``latent_ensemble`` (tests, or a caller that trained one) skips training; ``reference_images``
        are the encoded training data of the ensemble (see the module docstring)."""
        c = self.config
        device, dtype = cs.model_device_dtype(model)
        x = images_to_tensor(images, "clarity", dtype=dtype, device=device)
        generator = cs.generator_of(auxiliaries, x, "clarity")
        forward = logit_function(model)
        k = cs.class_count(forward, x, "the explained classifier", "clarity")
        with torch.no_grad():
            predictions, targets = cs.resolve_targets(forward(x), c.target, "clarity")
        accuracy = None
        if latent_ensemble is None:
            reference = None
            if reference_images is not None:
                reference = images_to_tensor(reference_images, "clarity", dtype=dtype, device=device)
                cs.generator_of(auxiliaries, reference, "clarity")
            latent_ensemble, accuracy = latent_ensemble_for(generator, model, c, k, reference)
        latent_ensemble = latent_ensemble.to(device=device, dtype=dtype)
        origin = torch.zeros(1, generator.config.latent_dim, device=device, dtype=dtype)
        out_classes = latent_ensemble(origin).shape[-1]
        if out_classes != k:
            raise MethodError(f"clarity: the latent ensemble has {out_classes} classes but the explained classifier "
                              f"has {k}")
        log = cs.EvaluationLog(x.shape[0])
        encode = cs.Counted(lambda v: generator.encode(v)[0], log, "encoder")
        decode = cs.Counted(generator.decode, log, "decoder")
        members = [cs.Counted(m, log, f"latent classifier {i + 1}")
                   for i, m in enumerate(latent_ensemble.members)]
        targets = targets.to(device)
        with torch.no_grad():
            z = encode(x)

        def objective(values: Tensor, rows: Tensor):
            ce, prob = cs.mean_probability_loss(members, values, targets[rows])
            return ce + c.lam * cs.distance(values, z[rows], c.distance), prob

        result = cs.search(z, objective, gamma=c.gamma, max_iterations=c.max_iterations,
                           learning_rate=c.learning_rate, log=log)
        with torch.no_grad():
            counterfactuals = decode(result.values)
        latent_l1 = cs.distance(result.values, z, "l1")
        return cs.served_explanation(
            model, counterfactuals, predictions.cpu(), targets.cpu(), result, log,
            {"label": "Counterfactual", "counterfactual": "clarity"},
            extra={"latent_l1": [round(float(v), 6) for v in latent_l1],
                   "latent_ensemble_accuracy": [accuracy] * x.shape[0]},
        )
