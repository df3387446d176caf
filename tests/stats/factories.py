"""Small factories for stats tests: build studies, participants and answers with the studies models."""
from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from studies.models import Condition, Item, PageVisit, Participant, Response, Study

_counter = itertools.count(1)


def make_user(username: str | None = None, **fields):
    return get_user_model().objects.create_user(username=username or f"user{next(_counter)}", password="pw", **fields)


def make_study(*, owner=None, slug: str | None = None, conditions=("cf", "bl"), status=Study.Status.DRAFT, **fields):
    study = Study.objects.create(
        owner=owner or make_user(), slug=slug or f"study-{next(_counter)}", title="Patterns", status=status,
        **fields,
    )
    names = {"cf": "Counterfactual", "bl": "Baseline"}
    for order, slug_ in enumerate(conditions):
        Condition.objects.create(study=study, name=names.get(slug_, slug_), slug=slug_, order=order)
    return study


def make_item(study, key, *, group="pattern", kind=Item.Kind.LIKERT, page=Item.Page.STIMULUS, **fields):
    return Item.objects.create(study=study, key=key, text=f"Statement {key}", group=group, kind=kind, page=page,
                               order=next(_counter), **fields)


def make_participant(study, condition_slug, answers: dict[str, int | str | None], *, status="completed",
                     is_simulated=False, stimulus_seconds: float | None = 60.0, attention_failed=False):
    condition = study.conditions.get(slug=condition_slug)
    participant = Participant.objects.create(
        study=study, condition=condition, platform=study.platform, status=status, is_simulated=is_simulated,
        attention_failed=attention_failed, completed_at=timezone.now() if status == "completed" else None,
    )
    items = {item.key: item for item in study.items.all()}
    for key, value in answers.items():
        if isinstance(value, int):
            Response.objects.create(participant=participant, item=items[key], value_int=value)
        else:
            Response.objects.create(participant=participant, item=items[key], value_int=None, value_text=value or "")
    if stimulus_seconds is not None:
        start = timezone.now() - timedelta(seconds=stimulus_seconds)
        PageVisit.objects.create(participant=participant, page="stimulus", entered_at=start,
                                 left_at=timezone.now(), seconds=stimulus_seconds)
    return participant


def seed_like_study(*, owner=None, n_per_condition: int = 8, **fields):
    """Two conditions, three pattern statements (one reverse-coded), one satisfaction item, one check."""
    study = make_study(owner=owner, **fields)
    make_item(study, "arms")
    make_item(study, "color")
    make_item(study, "bg", reverse_coded=True)
    make_item(study, "helpful", group="satisfaction", page=Item.Page.SATISFACTION)
    make_item(study, "check", group="attention", kind=Item.Kind.ATTENTION_CHECK, expected_answer=2)
    cf = {"arms": [7, 7, 7, 6, 7, 7, 6, 7], "color": [5, 6, 4, 3, 5, 6, 2, 5], "bg": [1, 1, 2, 1, 2, 1, 1, 2],
          "helpful": [7, 7, 6, 7, 6, 7, 7, 7]}
    bl = {"arms": [5, 6, 4, 5, 6, 3, 5, 6], "color": [3, 4, 5, 2, 5, 6, 3, 4], "bg": [2, 1, 1, 3, 1, 2, 1, 1],
          "helpful": [7, 6, 7, 7, 6, 7, 7, 6]}
    for slug, table in (("cf", cf), ("bl", bl)):
        for i in range(n_per_condition):
            answers = {key: values[i % len(values)] for key, values in table.items()}
            answers["check"] = 2
            make_participant(study, slug, answers)
    return study
