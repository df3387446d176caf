"""Preregistered hypotheses: changed only while the study is a draft, validated on save."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from stats.models import Hypothesis
from stats.services import hypothesis_create, hypothesis_delete, hypothesis_update
from studies.models import Study

from ..factories import seed_like_study

pytestmark = pytest.mark.django_db


def test_hypotheses_can_only_change_while_the_study_is_a_draft():
    study = seed_like_study(n_per_condition=1)
    hypothesis = hypothesis_create(study=study, key="h1", kind="proportion_agree",
                                   parameters={"item": "arms", "condition": "cf", "threshold": 0.5})
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    with pytest.raises(ValidationError, match="draft"):
        hypothesis_create(study=study, key="h2", kind="proportion_agree",
                          parameters={"item": "arms", "condition": "cf", "threshold": 0.5})
    with pytest.raises(ValidationError, match="draft"):
        hypothesis_update(hypothesis=hypothesis, data={"parameters": {"item": "arms", "condition": "cf",
                                                                      "threshold": 0.1}})
    with pytest.raises(ValidationError, match="draft"):
        hypothesis_delete(hypothesis=hypothesis)
    hypothesis.refresh_from_db()
    assert hypothesis.parameters["threshold"] == 0.5 and Hypothesis.objects.count() == 1


def test_hypotheses_naming_unknown_items_or_conditions_are_refused():
    study = seed_like_study(n_per_condition=1)
    with pytest.raises(ValidationError, match="'nope' is not a Likert item"):
        hypothesis_create(study=study, key="h1", kind="proportion_agree",
                          parameters={"item": "nope", "condition": "cf", "threshold": 0.5})
    with pytest.raises(ValidationError, match="'xx' is not a condition"):
        hypothesis_create(study=study, key="h1", kind="condition_greater",
                          parameters={"item": "arms", "higher": "xx", "lower": "bl"})
    assert not Hypothesis.objects.exists()
