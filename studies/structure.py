"""A study's items as every participant page needs them, read once per web process.

Each page used to read the study's items from the database two or three times (which pages there are, the
page's items, validation). They are read once per process now (studyserver/process_cache.py) and rebuilt
when an item, a condition or the study itself is saved or deleted (the signals below, connected in
StudiesConfig.ready). The Item instances are shared by concurrent requests: callers read their fields and
never change them or follow their relations.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from studyserver.process_cache import ProcessCache

from .models import Condition, Item, Study

_items_by_study: ProcessCache["StudyStructure"] = ProcessCache("study-structure")


@dataclass(frozen=True)
class StudyStructure:
    #: Every item of the study in configured order (order, pk).
    items: tuple[Item, ...]

    def items_for(self, *, condition_id: int | None, page: str | None = None) -> list[Item]:
        """The items a participant of ``condition_id`` answers (shared ones and their condition's)."""
        return [item for item in self.items
                if (item.condition_id is None or item.condition_id == condition_id)
                and (page is None or item.page == page)]


def study_structure(*, study_id: int) -> StudyStructure:
    return _items_by_study.get(study_id, lambda: StudyStructure(
        items=tuple(Item.objects.filter(study_id=study_id).order_by("order", "pk"))))


def study_structure_invalidate(*, study_id: int) -> None:
    """Stale now, and again once the change commits: a process that rebuilt in between read the old rows."""
    _items_by_study.invalidate(study_id)
    transaction.on_commit(lambda: _items_by_study.invalidate(study_id))


def _changed(sender, instance, **kwargs) -> None:
    study_id = instance.pk if sender is Study else instance.study_id
    if study_id is not None:
        study_structure_invalidate(study_id=study_id)


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    for model in (Study, Condition, Item):
        post_save.connect(_changed, sender=model, dispatch_uid=f"study-structure-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"study-structure-delete-{model.__name__}")
