"""Training, registering and evaluating progressive-exaggeration explainers of registered classifiers."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from explainers.core.evaluation.counterfactual_quality import REGRESSED_PARAMETERS, ParameterReadout, ParameterRegressor
from explainers.core.methods.registry import MethodError
from explainers.models import RegisteredModel
from explainers.services.auxiliary_models import auxiliary_models_check
from explainers.services.checkpoints import checkpoint_register
from explainers.services.classifiers import model_register_checkpoint
from explainers.services.exaggeration import explainer_evaluate, explainer_for, explainer_register, explainer_train
from explainers.services.training import model_train

pytestmark = pytest.mark.django_db


def registered_cnn(tmp_path, name: str, seed: int = 0) -> RegisteredModel:
    loaded = model_train(out=tmp_path / f"{name}.pt", preset="cnn-tiny", seed=seed)
    return model_register_checkpoint(owner=None, checkpoint=checkpoint_register(path=loaded.path, name=name),
                                     name=name)


@pytest.fixture
def classifiers(tmp_path):
    return registered_cnn(tmp_path, "biased"), registered_cnn(tmp_path, "other", seed=1)


def test_an_explainer_is_trained_for_and_registered_against_one_classifier(classifiers, tmp_path):
    biased, other = classifiers
    loaded = explainer_train(classifier=biased, out=tmp_path / "explainer.pt", preset="exaggeration-tiny", steps=2)
    assert loaded.step == 2 and loaded.config.classifier_sha256 == biased.sha256
    assert loaded.config.net.image_size == 16 and loaded.config.sampler == "study"
    explainer = explainer_register(classifier=biased, path=loaded.path, name="explainer")
    assert explainer.kind == RegisteredModel.Kind.GENERATOR and "generator" in explainer.capabilities
    assert explainer.metrics["explains"] == {"id": biased.pk, "name": "biased", "sha256": biased.sha256}
    assert explainer.accuracy is None and explainer.dataset_id == biased.dataset_id
    explainer_for(explainer, biased)
    with pytest.raises(ValidationError, match="trained to explain 'biased', not 'other'"):
        explainer_for(explainer, other)
    with pytest.raises(ValidationError, match="not for 'other'"):
        explainer_register(classifier=other, path=loaded.path, name="wrong")
    # configuring a stimulus set of the other classifier with this explainer is refused before anything runs
    with pytest.raises(MethodError, match="was trained to explain model 'biased', not 'other'"):
        auxiliary_models_check(owner=None, model=other, method="progressive_exaggeration",
                               config={"explainer_model": explainer.pk, "steps": 4})
    assert auxiliary_models_check(owner=None, model=biased, method="progressive_exaggeration",
                                  config={"explainer_model": explainer.pk})["explainer"] == [explainer]

    readout = ParameterReadout(ParameterRegressor(len(REGRESSED_PARAMETERS), 16), np.zeros(len(REGRESSED_PARAMETERS)),
                               np.ones(len(REGRESSED_PARAMETERS)), {k: 1.0 for k in REGRESSED_PARAMETERS})
    report = explainer_evaluate(explainer=explainer, oracle=other, count=8, steps=3, readout=readout)
    assert set(report) >= {"compatibility", "self_consistency", "data_consistency", "confounding"}
    assert report["data_consistency"]["generated_images"] == 24


def test_train_explainer_command_registers_and_refuses_unknown_classifiers(classifiers, tmp_path):
    biased, _ = classifiers
    out = io.StringIO()
    call_command("train_explainer", "--classifier", str(biased.pk), "--preset", "exaggeration-tiny", "--steps", "2",
                 "--out", str(tmp_path / "cmd.pt"), "--threads", "1", "--register", "cmd explainer",
                 stdout=out, stderr=io.StringIO())
    summary = json.loads(out.getvalue())
    assert summary["metrics"]["steps"] == 2 and summary["explains"] == "biased"
    assert RegisteredModel.objects.get(pk=summary["model_id"]).kind == "generator"
    call_command("train_explainer", "--classifier", "biased", "--preset", "exaggeration-tiny", "--steps", "3",
                 "--out", str(tmp_path / "cmd.pt"), "--resume", "--threads", "1", stdout=out, stderr=io.StringIO())
    with pytest.raises(CommandError, match="no registered model 'nobody'"):
        call_command("train_explainer", "--classifier", "nobody", "--out", str(tmp_path / "x.pt"),
                     stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="--steps"):
        call_command("evaluate_explainer", "--explainer", "cmd explainer", "--steps", "1", stdout=io.StringIO())
