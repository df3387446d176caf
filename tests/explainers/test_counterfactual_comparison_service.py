"""compare_counterfactuals end to end on tiny checkpoints: held-out images, entrants, files, refusals."""
from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from explainers.core.nets.cnn import CNNConfig
from explainers.core.nets.vae import VAEConfig
from explainers.core.training.checkpoints import checkpoint_save
from explainers.core.training.cnn import CNNTrainConfig
from explainers.core.training.loop import train
from explainers.core.training.vae import VAETrainConfig, dataset_arrays


def _checkpoints(tmp_path):
    cnn = CNNTrainConfig(net=CNNConfig(image_size=16, width=4, blocks=2, feature_dim=8), steps=2, batch_size=8,
                         warmup_steps=1, eval_every=2, train_size=40, val_size=8)
    vae = VAETrainConfig(net=VAEConfig(image_size=16, latent_dim=4, width=4, levels=2, hidden=16), steps=2,
                         batch_size=8, warmup_steps=1, eval_every=2, train_size=40, val_size=8)
    data = dataset_arrays(vae)
    paths = {}
    for name, config in (("cnn", cnn), ("vae", vae)):
        state = train(config, data=data)
        paths[name] = tmp_path / f"{name}.pt"
        checkpoint_save(paths[name], config=config, state=state, metrics={})
    return paths


@pytest.mark.django_db
def test_the_command_writes_the_table_json_and_csv(tmp_path, settings, capsys):
    settings.ARTIFACTS_ROOT = tmp_path
    paths = _checkpoints(tmp_path)
    call_command("compare_counterfactuals", classifier=str(paths["cnn"]), vae=str(paths["vae"]),
                 oracle=str(paths["cnn"]), n=2, max_iterations=3, reference=16, threads=1, out="cmp",
                 methods="revise,input_gradient_descent,schut,clarity", no_readout=True)
    printed = capsys.readouterr().out
    assert "REVISE" in printed and "input gradient descent" in printed
    record = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    labels = [row["method"] for row in record["rows"]]
    assert labels == ["REVISE", "input gradient descent", "Clarity"]  # Schut needs an ensemble: not an entrant
    assert (tmp_path / "cmp" / "comparison.csv").read_text().startswith("method,")
    for row in record["rows"]:
        assert row["error"] or row["images"] == 2


@pytest.mark.django_db
def test_a_vae_of_another_size_is_reported_not_crashed(tmp_path, settings):
    settings.ARTIFACTS_ROOT = tmp_path
    paths = _checkpoints(tmp_path)
    from explainers.services.counterfactual_comparison import comparison_run

    config = VAETrainConfig(net=VAEConfig(image_size=8, latent_dim=2, width=4, levels=1, hidden=8), steps=1,
                            batch_size=4, warmup_steps=1, eval_every=1, train_size=40, val_size=8)
    state = train(config, data=dataset_arrays(config))
    checkpoint_save(tmp_path / "small.pt", config=config, state=state, metrics={})
    rows, _ = comparison_run(classifier=str(paths["cnn"]), oracle=None, vae=str(tmp_path / "small.pt"),
                             class_vaes={}, ensemble=[], n=2, reference=8, max_iterations=2,
                             methods=("revise",), readout=False)
    assert "8×8 px" in rows[0]["error"]
    with pytest.raises(CommandError, match="CLASS=PATH"):
        call_command("compare_counterfactuals", classifier=str(paths["cnn"]), vae=str(paths["vae"]),
                     class_vae=["zero=vae.pt"])
