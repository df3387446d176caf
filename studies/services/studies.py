"""The researcher's side: a study's lifecycle (create, launch, pause, close, delete), its conditions and items."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone

from studies import selectors
from studies.designs.registry import design_for
from studies.models import Condition, Item, Study

from .privacy import consent_current_version, wording_fixes_log


@transaction.atomic
def study_create(*, owner, **fields: Any) -> Study:
    return _validated_save(Study(owner=owner), fields)


def _validated_save(instance, data: dict[str, Any]):
    """Set ``data`` on ``instance``, validate the whole object (clean() holds the data-integrity rules), save.

    Typo fixes of a launched study's wording (the only wording changes clean() lets through) are logged."""
    for name, value in data.items():
        setattr(instance, name, value)
    instance.full_clean()
    if isinstance(instance, (Item, Condition)):
        wording_fixes_log(instance=instance)
    instance.save()
    return instance


@transaction.atomic
def study_update(*, study: Study, data: dict[str, Any]) -> Study:
    return _validated_save(study, data)


def study_launch_problems(*, study: Study) -> dict[str, list[str]]:
    """Everything that keeps a study from going live, keyed by the field to fix."""
    problems: dict[str, list[str]] = {}
    try:
        design = design_for(study)
    except ImproperlyConfigured as error:
        return {"design": [str(error)]}
    for field, messages in design.launch_problems(study=study).items():
        problems.setdefault(field, []).extend(messages)
    if study.platform == Study.Platform.PROLIFIC and not study.completion_code:
        problems.setdefault("completion_code", []).append("Prolific studies need a completion code.")
    if study.status == Study.Status.CLOSED:
        problems.setdefault("status", []).append("A closed study cannot be launched again.")
    return problems


@transaction.atomic
def study_launch(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    problems = study_launch_problems(study=study)
    if problems:
        raise ValidationError(problems)
    study.status = Study.Status.LIVE
    study.launched_at = study.launched_at or timezone.now()
    study.save(update_fields=["status", "launched_at"])
    consent_current_version(study=study)  # from now on the consent is only superseded, never edited
    return study


@transaction.atomic
def study_pause(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.LIVE:
        raise ValidationError({"status": f"Only a live study can be paused (this one is {study.status})."})
    study.status = Study.Status.PAUSED
    study.save(update_fields=["status"])
    return study


@transaction.atomic
def study_close(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status == Study.Status.CLOSED:
        raise ValidationError({"status": "The study is already closed."})
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    return study


# --- conditions and items ------------------------------------------------------------------------


@transaction.atomic
def condition_create(*, study: Study, **fields: Any) -> Condition:
    return _validated_save(Condition(study=study), fields)


@transaction.atomic
def condition_update(*, condition: Condition, data: dict[str, Any]) -> Condition:
    return _validated_save(condition, data)


def condition_delete_problem(*, condition: Condition) -> str | None:
    if condition.study.is_launched:
        return "Cannot delete a condition of a launched study. Close the study instead."
    if condition.participants.exists():
        return "Cannot delete this condition: participants were assigned to it. Close the study instead."
    if condition.items.exists():
        return "Cannot delete this condition while condition-specific items refer to it."
    return None


@transaction.atomic
def condition_delete(*, condition: Condition) -> None:
    problem = condition_delete_problem(condition=condition)
    if problem:
        raise ValidationError({"condition": problem})
    condition.delete()


@transaction.atomic
def item_create(*, study: Study, **fields: Any) -> Item:
    return _validated_save(Item(study=study), fields)


@transaction.atomic
def item_update(*, item: Item, data: dict[str, Any]) -> Item:
    return _validated_save(item, data)


def item_delete_problem(*, item: Item) -> str | None:
    if selectors.study_has_responses(study=item.study):
        return "Cannot delete an item of a study that already has responses: the collected data would lose meaning."
    if item.study.is_launched:
        return "Cannot delete an item of a launched study: participants already answer it. Close the study instead."
    return None


@transaction.atomic
def item_delete(*, item: Item) -> None:
    problem = item_delete_problem(item=item)
    if problem:
        raise ValidationError({"item": problem})
    item.delete()



@transaction.atomic
def study_delete(*, study: Study) -> None:
    """Only a study nobody has taken part in can be deleted; otherwise close it."""
    if study.participants.exists():
        raise ValidationError({"study": "Cannot delete a study that has participants (their data would be lost). "
                               "Close it instead."})
    study.delete()
