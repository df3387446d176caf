"""Server-side bookkeeping of a simulation run through the ORM, beside the participant pages.

The participant pages accept no "I am a bot" signal (deliberately: a public page must not let anybody mark
their own record as excluded data). The bots therefore run with database access next to the server: right
after entering, and before consenting (before a condition is assigned and before any answer exists), the
registry marks the new record `is_simulated=True`, finding it by the token in the participant URL the
server redirected to. Against a server on another database it cannot find the record and says so.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from .errors import BotStuck


class ParticipantRegistry:
    """Flag a new record simulated, read its assigned condition, simulate viewing time."""

    def __init__(self, study_slug: str) -> None:
        self.study_slug = study_slug

    def mark_simulated(self, token: str) -> None:
        from studies.models import Participant

        updated = Participant.objects.filter(study__slug=self.study_slug, token=token).update(is_simulated=True)
        if updated != 1:
            raise BotStuck(
                "entered the study, but its participant record is not in this database, so it cannot be "
                "flagged simulated: run simulate_participants with the same DATABASE_URL as the server."
            )

    def backdate_page_visit(self, token: str, page: str, seconds: float) -> None:
        """Simulated viewing time: move the open visit's start back instead of sleeping through it."""
        from django.db.models import F

        from studies.models import PageVisit

        PageVisit.objects.filter(participant__token=token, participant__study__slug=self.study_slug, page=page,
                                 left_at__isnull=True).update(entered_at=F("entered_at") - timedelta(seconds=seconds))

    def condition_of(self, token: str) -> str:
        from studies.models import Participant

        slug = (Participant.objects.filter(study__slug=self.study_slug, token=token)
                .values_list("condition__slug", flat=True).first())
        if not slug:
            raise BotStuck("consented, but no condition was assigned to its participant record.")
        return slug


class SingleConnectionRegistry:
    """A registry whose database work runs on one thread of its own, so hundreds of concurrent bots share
    ONE database connection instead of opening one each (PostgreSQL's max_connections is often 100).
    Call close() when the run is over."""

    def __init__(self, registry: ParticipantRegistry) -> None:
        self._registry = registry
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulation-registry")

    def mark_simulated(self, token: str) -> None:
        self._thread.submit(self._registry.mark_simulated, token).result()

    def backdate_page_visit(self, token: str, page: str, seconds: float) -> None:
        self._thread.submit(self._registry.backdate_page_visit, token, page, seconds).result()

    def condition_of(self, token: str) -> str:
        return self._thread.submit(self._registry.condition_of, token).result()

    def close(self) -> None:
        from django.db import connections

        self._thread.submit(connections.close_all).result()
        self._thread.shutdown()
