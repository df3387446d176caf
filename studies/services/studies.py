"""The researcher's side: a study's lifecycle (create, launch, pause, close, delete), its conditions and items."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone

from studies import selectors
from studies.designs.registry import design_for
from studies.models import Condition, Item, Study

from .locks import study_lock
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
    study = study_lock(study.pk)
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
    study = study_lock(study.pk)
    if study.status != Study.Status.LIVE:
        raise ValidationError({"status": f"Only a live study can be paused (this one is {study.status})."})
    study.status = Study.Status.PAUSED
    study.save(update_fields=["status"])
    return study


@transaction.atomic
def study_close(*, study: Study) -> Study:
    study = study_lock(study.pk)
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


#: Study fields a duplicate copies; everything else (owner, status, dates, consent versions) starts afresh.
_DUPLICATED_STUDY_FIELDS = (
    "title", "description", "platform", "design", "target_per_condition", "completion_code", "attention_fail_code",
    "declined_code", "screened_out_code", "consent_text", "instructions_text", "instructions_video_url",
    "randomize_items", "min_stimulus_seconds", "time_limit_minutes", "page_texts",
)
_DUPLICATED_CONDITION_FIELDS = ("name", "slug", "description", "order", "stimulus_grid_id", "stimulus_image",
                                "shows_explanation", "page_texts")
_DUPLICATED_ITEM_FIELDS = ("key", "text", "kind", "group", "page", "order", "scale_points", "anchor_low",
                           "anchor_high", "labels", "reverse_coded", "expected_answer", "required")


def study_duplicate_slug(*, study: Study) -> str:
    """A free slug for a copy of ``study``: <slug>-copy, <slug>-copy-2, ..."""
    stem = f"{study.slug[:70]}-copy"
    candidate, number = stem, 1
    while Study.objects.filter(slug=candidate).exists():
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


@transaction.atomic
def study_duplicate(*, study: Study, slug: str, owner) -> Study:
    """A draft copy of the study under a new slug: its settings, conditions (with their stimuli) and items,
    plus what its design copies (StudyDesign.copy_configuration). No participant or answer is copied; the
    copy gets its own consent version when it is launched. Uploaded images are shared, not duplicated:
    a stimulus shown to participants is never changed in place."""
    if Study.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"The slug {slug!r} is already used by a study; choose another."})
    copy = Study(owner=owner, slug=slug, **{name: getattr(study, name) for name in _DUPLICATED_STUDY_FIELDS})
    copy.full_clean()
    copy.save()
    conditions = {}
    for condition in study.conditions.order_by("order", "pk"):
        conditions[condition.pk] = Condition.objects.create(
            study=copy, **{name: getattr(condition, name) for name in _DUPLICATED_CONDITION_FIELDS})
    for item in study.items.order_by("page", "order", "pk"):
        Item.objects.create(study=copy, condition=conditions.get(item.condition_id),
                            **{name: getattr(item, name) for name in _DUPLICATED_ITEM_FIELDS})
    design_for(copy).copy_configuration(source=study, copy=copy)
    return copy
