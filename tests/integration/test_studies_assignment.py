"""Balanced assignment under concurrency on PostgreSQL (row lock on the study)."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from studies import selectors, services
from studies.models import Participant
from tests.studies.factories import GOOD_STIMULUS_ANSWERS, make_study, make_user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

THREADS = 16


def _in_thread(function, *args):
    try:
        return function(*args)
    finally:
        connection.close()  # each worker thread has its own connection; give it back


def arrive(study, external_id: str) -> int:
    def run():
        participant = services.participant_enter(
            study=study, identity=services.PlatformIdentity(platform=study.platform, external_id=external_id)
        )
        return services.participant_consent(participant=participant, agreed=True).pk
    return _in_thread(run)


def complete(participant_id: int) -> None:
    def run():
        participant = Participant.objects.get(pk=participant_id)
        for page, answers in (("instructions", {}), ("stimulus", GOOD_STIMULUS_ANSWERS),
                              ("satisfaction", {"useful": 4}), ("free_text", {"comments": "ok"})):
            participant = services.participant_navigate(participant=participant, page=page, answers=answers,
                                                        direction="next")
    _in_thread(run)


def arrive_all(study, ids) -> list[int]:
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda external_id: arrive(study, external_id), ids))


def counts_by_status(study, status) -> list[int]:
    per_condition = {c.pk: 0 for c in study.conditions.all()}
    for condition_id in Participant.objects.filter(study=study, status=status).values_list("condition_id", flat=True):
        per_condition[condition_id] += 1
    return sorted(per_condition.values())


def test_100_concurrent_arrivals_split_50_50(transactional_db):
    study = make_study(owner=make_user())
    arrive_all(study, [f"p{i}" for i in range(100)])
    assert counts_by_status(study, Participant.Status.ACTIVE) == [50, 50]
    assert Participant.objects.filter(study=study, condition__isnull=True).count() == 0


def test_abandoned_places_are_refilled_and_completions_stay_balanced(transactional_db):
    study = make_study(owner=make_user(), target_per_condition=50)
    rng = random.Random(7)
    ids = arrive_all(study, [f"first-{i}" for i in range(100)])
    abandoning = set(rng.sample(ids, 30))
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(complete, [pk for pk in ids if pk not in abandoning]))
    returned, idle = sorted(abandoning)[:15], sorted(abandoning)[15:]
    for pk in returned:
        services.participant_mark_returned(participant=Participant.objects.get(pk=pk))
    Participant.objects.filter(pk__in=idle).update(last_seen_at=timezone.now() - timedelta(hours=2))
    assert services.participants_time_out(study=study) == 15
    round_number = 0
    while selectors.condition_fill_counts(study=study) and min(selectors.condition_fill_counts(study=study).values()) < 50:
        round_number += 1
        missing = 100 - sum(selectors.condition_fill_counts(study=study).values())
        new_ids = arrive_all(study, [f"refill-{round_number}-{i}" for i in range(missing)])
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(complete, new_ids))
        assert round_number < 5
    completed = counts_by_status(study, Participant.Status.COMPLETED)
    assert sum(completed) == 100
    assert completed[1] - completed[0] <= 1
    assert selectors.study_is_full(study=study)


def test_the_allocation_commits_without_a_disk_flush_and_the_consent_right_after_with_one(transactional_db):
    """The allocation at consent holds the study lock; its commit does not wait for the disk because the
    consent's synchronous commit in the same request flushes it (services/durability.py)."""
    from django.test.utils import CaptureQueriesContext

    study = make_study(owner=make_user())
    participant = services.participant_enter(
        study=study, identity=services.PlatformIdentity(platform=study.platform, external_id="DURABLE"))
    with CaptureQueriesContext(connection) as queries:
        participant = services.participant_consent(participant=participant, agreed=True)
    statements = [q["sql"] for q in queries.captured_queries]
    relaxed = [i for i, sql in enumerate(statements) if "synchronous_commit" in sql]
    assert len(relaxed) == 1, statements
    lock = next(i for i, sql in enumerate(statements) if "FOR NO KEY UPDATE" in sql and '"studies_study"' in sql)
    assert relaxed[0] < lock  # set before the lock is taken, for the allocation's transaction only
    consent_update = max(i for i, sql in enumerate(statements) if "consent_version_id" in sql)
    assert consent_update > lock and participant.condition_id is not None
    with connection.cursor() as cursor:  # SET LOCAL ended with its transaction
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
