"""Preregistered hypotheses: created, changed and deleted only while their study is a draft."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.models import Study

from ..models import Hypothesis


def _require_draft(study: Study) -> None:
    if study.status != Study.Status.DRAFT:
        raise ValidationError(
            {"study": "Hypotheses are preregistered: they can only be changed while the study is a draft."}
        )


@transaction.atomic
def hypothesis_create(
    *, study: Study, key: str, kind: str, parameters: dict[str, Any], description: str = ""
) -> Hypothesis:
    study = Study.objects.select_for_update().get(pk=study.pk)
    _require_draft(study)
    hypothesis = Hypothesis(study=study, key=key, kind=kind, parameters=parameters, description=description)
    hypothesis.full_clean()
    hypothesis.save()
    return hypothesis


@transaction.atomic
def hypothesis_update(*, hypothesis: Hypothesis, data: dict[str, Any]) -> Hypothesis:
    study = Study.objects.select_for_update().get(pk=hypothesis.study_id)
    _require_draft(study)
    for name in ("key", "kind", "parameters", "description"):
        if name in data:
            setattr(hypothesis, name, data[name])
    hypothesis.full_clean()
    hypothesis.save()
    return hypothesis


@transaction.atomic
def hypothesis_delete(*, hypothesis: Hypothesis) -> None:
    study = Study.objects.select_for_update().get(pk=hypothesis.study_id)
    _require_draft(study)
    hypothesis.delete()
