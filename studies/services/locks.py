"""The studies app's row locks: SELECT ... FOR NO KEY UPDATE of a participant or a study by primary key.

NO KEY: the lock serialises whatever changes the row (an assignment, a page's answers), but not the
foreign-key checks of rows that refer to it, so a new participant's INSERT does not wait for the assignments
in flight (bench/flow: entry p50 300 ms before). The studies app never changes a primary key. SQLite
serialises writers instead. Both statements are compiled once per process (studyserver/compiled_lookup.py):
every participant submission takes one of them.
"""
from __future__ import annotations

from studies.models import Participant, Study
from studyserver.compiled_lookup import CompiledLookup

_LOCKED_PARTICIPANT = CompiledLookup(
    lambda pk: Participant.objects.select_for_update(no_key=True).filter(pk=pk).order_by()[:1])
_LOCKED_STUDY = CompiledLookup(lambda pk: Study.objects.select_for_update(no_key=True).filter(pk=pk).order_by()[:1])


def participant_lock(participant: Participant) -> Participant:
    """The participant's row, locked until the transaction ends, with the study the caller already holds (it
    does not change under a participant's request)."""
    locked = _LOCKED_PARTICIPANT.require(participant.pk)
    if Participant.study.is_cached(participant):
        locked.study = participant.study
    return locked


def study_lock(study_id: int) -> Study:
    """The study's row, read afresh and locked until the transaction ends."""
    return _LOCKED_STUDY.require(study_id)
