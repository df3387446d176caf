"""Simulated annotators walk the real pages; their answers follow the item difficulty and stay apart."""
import io
import json
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from studies.designs.annotation.analysis import annotation_analyse
from studies.designs.annotation.models import AnnotationVote
from studies.designs.annotation.simulation import AnnotationPolicy, ShownItem
from studies.models import Participant
from studies.simulation import simulation_run

from .factories import make_annotation_study


def test_the_policy_answers_by_difficulty():
    policy = AnnotationPolicy(accuracy={"easy": 1.0, "hard": 0.0})
    rng = random.Random(0)
    easy = ShownItem(choices=("1", "2"), ground_truth="1", subcategory="easy", is_attention=False)
    hard = ShownItem(choices=("1", "2"), ground_truth="1", subcategory="hard", is_attention=False)
    assert {policy.answer(easy, fail_attention=False, rng=rng) for _ in range(20)} == {"1"}
    assert {policy.answer(hard, fail_attention=False, rng=rng) for _ in range(20)} == {"2"}
    with pytest.raises(ValueError, match="between 0 and 1"):
        AnnotationPolicy(accuracy={"easy": 1.5})


@pytest.mark.django_db
def test_simulated_annotators_fill_every_item_and_are_flagged():
    study = make_annotation_study(items=4, k=3, per_participant=2, attention=True)
    report = simulation_run(study=study, n=6, policy=AnnotationPolicy(accuracy={"easy": 1.0, "hard": 1.0}), seed=1)
    assert not report.stuck, [o.error for o in report.stuck]
    assert report.count("completed") == 6
    assert Participant.objects.filter(study=study, is_simulated=True).count() == 6
    assert AnnotationVote.objects.filter(item__is_attention=False).count() == 12
    results = annotation_analyse(study=study, include_simulated=True)
    assert results["tasks"][0]["overall"]["majority_vote"]["proportion"] == 1.0


@pytest.mark.django_db
def test_the_command_refuses_a_bad_accuracy(tmp_path):
    study = make_annotation_study(items=1, k=1)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"accuracy": {"easy": 2}}))
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("simulate_participants", study.slug, "--n", "1", "--policy", str(policy))
    assert not Participant.objects.filter(study=study).exists()


@pytest.mark.django_db
def test_the_simulate_command_uses_the_annotation_bot_and_its_policy_file(tmp_path):
    study = make_annotation_study(items=2, k=2, per_participant=2)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"accuracy": {"easy": 1.0, "hard": 1.0}, "otherwise": 1.0}))
    call_command("simulate_participants", study.slug, "--n", "2", "--policy", str(policy), stdout=io.StringIO())
    votes = AnnotationVote.objects.filter(participant__is_simulated=True).select_related("item")
    assert votes.count() == 4
    assert all(vote.choice == vote.item.ground_truth for vote in votes)
