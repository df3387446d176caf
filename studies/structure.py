"""A study's row, conditions and items as every participant page needs them, read once per web process.

Each page used to read the study's items from the database two or three times (which pages there are, the
page's items, validation), and the study and condition rows with every request. They are read once per
process now (studyserver/process_cache.py) and rebuilt when an item, a condition, a consent version or the
study itself is saved or deleted (the signals below, connected in StudiesConfig.ready), and at the latest after
PROCESS_CACHE_MAX_AGE seconds (a change made with QuerySet.update sends no signal). The Item instances are
shared by concurrent requests: callers read their fields and never change them or follow their relations;
the study and condition rows are handed out as copies (``row_copy``, ``StudyStructure.condition_row``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from django.db import transaction
from django.db.models import Model
from django.db.models.base import ModelState

from studyserver.process_cache import ProcessCache

from .models import Condition, ConsentVersion, Item, Study

_items_by_study: ProcessCache["StudyStructure"] = ProcessCache("study-structure")
RowT = TypeVar("RowT", bound=Model)


@dataclass(frozen=True)
class StudyStructure:
    #: Every item of the study in configured order (order, pk).
    items: tuple[Item, ...]
    #: The study row (None: no such study) and its conditions by primary key, as read; hand out row_copy()s.
    study: Study | None = None
    conditions: dict[int, Condition] = field(default_factory=dict)
    #: The consent version participants agree to now (the newest; None before the first is made), read with
    #: the study row whose consent text the consent page shows.
    consent_version_id: int | None = None

    def condition_row(self, condition_id: int | None) -> Condition | None:
        """A copy of one of the conditions; None for None or a condition not read yet."""
        condition = self.conditions.get(condition_id) if condition_id else None
        return row_copy(condition) if condition is not None else None

    def items_for(self, *, condition_id: int | None, page: str | None = None) -> list[Item]:
        """The items a participant of ``condition_id`` answers (shared ones and their condition's)."""
        return [item for item in self.items
                if (item.condition_id is None or item.condition_id == condition_id)
                and (page is None or item.page == page)]


def _read(study_id: int) -> StudyStructure:
    return StudyStructure(items=tuple(Item.objects.filter(study_id=study_id).order_by("order", "pk")),
                          study=Study.objects.filter(pk=study_id).first(),
                          conditions={c.pk: c for c in Condition.objects.filter(study_id=study_id).order_by()},
                          consent_version_id=ConsentVersion.objects.filter(study_id=study_id).order_by("-number")
                          .values_list("pk", flat=True).first())


def study_structure(*, study_id: int) -> StudyStructure:
    return _items_by_study.get(study_id, lambda: _read(study_id))


def row_copy(row: RowT) -> RowT:
    """A shallow copy of a model instance with its own state and no cached relations: what copy.copy gives,
    without the pickle protocol's detour (every participant request copies two rows)."""
    clone = row.__class__.__new__(row.__class__)
    clone.__dict__.update(row.__dict__)
    clone._state = ModelState()
    clone._state.db, clone._state.adding = row._state.db, row._state.adding
    return clone


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

    for model in (Study, Condition, Item, ConsentVersion):
        post_save.connect(_changed, sender=model, dispatch_uid=f"study-structure-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"study-structure-delete-{model.__name__}")
