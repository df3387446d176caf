"""Simulated participants of a trials study: through the real pages, flagged, following the per-method policy."""
from __future__ import annotations

import io
import json
import random
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from studies.designs.trials.models import Trial
from studies.designs.trials.simulation import MethodRatingPolicy, policy_for
from studies.models import Participant
from studies.simulation import simulation_run

from .factories import make_trials_study


def test_policy_ratings_centre_on_the_method_means():
    policy = MethodRatingPolicy(points={"first": 5, "second": 5}, means={"cem": 4.5, "lime": {"first": 1.5}})
    rng = random.Random(0)
    cem = [int(policy.rating(method="cem", question="first", rng=rng)) for _ in range(400)]
    lime = [int(policy.rating(method="lime", question="first", rng=rng)) for _ in range(400)]
    other = Counter(policy.rating(method="gradcam", question="second", rng=rng) for _ in range(400))
    assert sum(cem) / 400 > 3.8 and sum(lime) / 400 < 2.2
    assert other.most_common(1)[0][0] == "3"


@pytest.mark.django_db
def test_simulated_participants_complete_the_trials_and_are_flagged(researcher, settings):
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    study = make_trials_study(owner=researcher, min_instructions_seconds=30)
    policy = policy_for(study, means={"cem": 4.5, "lime": 3.0, "gradcam": 1.5})
    report = simulation_run(study=study, n=3, policy=policy, seed=1)
    assert report.count("completed") == 3, [o.error for o in report.outcomes]
    assert Participant.objects.filter(is_simulated=True, status=Participant.Status.COMPLETED).count() == 3
    answered = Trial.objects.filter(participant__is_simulated=True, second_rating__isnull=False)
    assert answered.count() == 72
    cem = [t.first_rating for t in answered.filter(first_method__key="cem")]
    gradcam = [t.first_rating for t in answered.filter(first_method__key="gradcam")]
    assert sum(cem) / len(cem) > sum(gradcam) / len(gradcam)


@pytest.mark.django_db
def test_the_simulate_command_uses_the_design_bot(researcher, settings, capsys):
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    study = make_trials_study(owner=researcher)
    call_command("simulate_participants", study.slug, "--n", "2")
    assert Participant.objects.filter(is_simulated=True, status=Participant.Status.COMPLETED).count() == 2


@pytest.mark.django_db
def test_the_simulate_command_reads_a_trials_policy_file(researcher, settings, tmp_path):
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    study = make_trials_study(owner=researcher)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"means": {"unknown-method": 3.0}}))
    with pytest.raises(CommandError, match="unknown method 'unknown-method'"):
        call_command("simulate_participants", study.slug, "--n", "1", "--policy", str(policy))
    assert not Participant.objects.filter(study=study).exists()
    policy.write_text(json.dumps({"means": {"cem": 5.0, "gradcam": 1.0}}))
    call_command("simulate_participants", study.slug, "--n", "1", "--policy", str(policy), stdout=io.StringIO())
    answered = Trial.objects.filter(participant__is_simulated=True, second_rating__isnull=False)
    cem = [t.first_rating for t in answered.filter(first_method__key="cem")]
    gradcam = [t.first_rating for t in answered.filter(first_method__key="gradcam")]
    assert cem and gradcam and sum(cem) / len(cem) > sum(gradcam) / len(gradcam)
