"""The researcher's side of an annotation study: settings, tasks, items and their images, launch checks.

Every write validates the whole object (``full_clean``) in one transaction, so bad input raises
ValidationError naming the field and stores nothing.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count

from studies.models import Study

from ..models import AnnotationImage, AnnotationItem, AnnotationSettings, AnnotationTask


def _validated_save(instance, data: dict[str, Any]):
    for name, value in data.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


def _require_annotation_study(study: Study) -> None:
    if study.design != Study.Design.ANNOTATION:
        raise ValidationError({"study": f"Study {study.slug!r} is a {study.get_design_display()} study, "
                                        "not an annotation task."})


@transaction.atomic
def annotation_settings_save(*, study: Study, **fields: Any) -> AnnotationSettings:
    """Create or update the study's k and items per participant."""
    _require_annotation_study(study)
    settings_row = AnnotationSettings.objects.filter(study=study).first() or AnnotationSettings(study=study)
    return _validated_save(settings_row, fields)


def annotation_settings_for(study: Study) -> AnnotationSettings:
    """The study's settings; the defaults (k = 8) until the researcher saves their own."""
    return AnnotationSettings.objects.filter(study=study).first() or AnnotationSettings(study=study)


@transaction.atomic
def annotation_task_create(*, study: Study, **fields: Any) -> AnnotationTask:
    _require_annotation_study(study)
    return _validated_save(AnnotationTask(study=study), fields)


@transaction.atomic
def annotation_task_update(*, task: AnnotationTask, data: dict[str, Any]) -> AnnotationTask:
    return _validated_save(task, data)


@transaction.atomic
def annotation_item_create(*, task: AnnotationTask, images: list[dict[str, Any]] = (), **fields: Any) -> AnnotationItem:
    """An item with its images (each {"grid_cell": GridCell} or {"image": file}, positions 1, 2, ... in order).

    A two-alternative item needs exactly two images; a row needs at least two.
    """
    item = _validated_save(AnnotationItem(task=task), fields)
    for position, image in enumerate(images, start=1):
        _validated_save(AnnotationImage(item=item, position=position), dict(image))
    problem = item_image_problem(item)
    if problem:
        raise ValidationError({"images": problem})
    return item


@transaction.atomic
def annotation_item_update(*, item: AnnotationItem, data: dict[str, Any]) -> AnnotationItem:
    return _validated_save(item, data)


def item_image_problem(item: AnnotationItem) -> str | None:
    count = item.images.count()
    if item.task.is_two_alternative and count != 2:
        return f"A two-alternative item shows exactly two images (item {item.key!r} has {count})."
    if count < 1:
        return f"Item {item.key!r} has no image."
    return None


def annotation_launch_problems(*, study: Study) -> dict[str, list[str]]:
    """What keeps an annotation study from going live, keyed by the field to fix."""
    problems: dict[str, list[str]] = {}
    settings_row = annotation_settings_for(study)
    tasks = list(AnnotationTask.objects.filter(study=study))
    if not tasks:
        problems.setdefault("annotation_tasks", []).append("Add at least one annotation task.")
    items = list(AnnotationItem.objects.filter(task__study=study).select_related("task")
                 .annotate(image_count=Count("images")))
    regular = [item for item in items if not item.is_attention]
    if tasks and not regular:
        problems.setdefault("annotation_items", []).append("Add at least one item that is not an attention item.")
    for item in items:
        try:
            item.full_clean()
        except ValidationError as error:
            for message in error.messages:
                problems.setdefault("annotation_items", []).append(f"Item {item}: {message}")
        problem = item_image_problem(item)
        if problem:
            problems.setdefault("annotation_items", []).append(problem)
    try:
        settings_row.full_clean(exclude=["study"])
    except ValidationError as error:
        for field, messages in error.message_dict.items():
            problems.setdefault(field, []).extend(messages)
    planned = settings_row.planned_participants
    if planned is not None and regular:
        needed = len(regular) * settings_row.votes_per_item
        capacity = planned * min(settings_row.items_per_participant, len(regular))
        if capacity < needed:
            problems.setdefault("planned_participants", []).append(
                f"{len(regular)} items × k = {settings_row.votes_per_item} votes need {needed} annotations, but "
                f"{planned} participants × {settings_row.items_per_participant} items give only {capacity}."
            )
    return problems
