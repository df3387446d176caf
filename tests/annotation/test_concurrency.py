"""Concurrent arrivals never over-allocate an item (PostgreSQL row locks; SQLite serialises writers)."""
from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection

from studies import services as study_services
from studies.designs.annotation.models import AnnotationAllocation

from .factories import make_annotation_study

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"],
                       reason="needs DATABASE_URL pointing at PostgreSQL (row locks under real concurrency)"),
]

THREADS = 16


def arrive(study, external_id: str) -> str:
    try:
        participant = study_services.participant_enter(
            study=study, identity=study_services.PlatformIdentity(platform=study.platform, external_id=external_id))
        study_services.participant_consent(participant=participant, agreed=True, rng=random.Random(external_id))
        return "allocated"
    except study_services.StudyUnavailable as unavailable:
        return unavailable.reason
    finally:
        connection.close()  # each worker thread has its own connection; give it back


def test_concurrent_arrivals_fill_every_item_to_exactly_k(transactional_db):
    # 6 items x k = 4 = 24 places, 3 items per participant: 8 participants fit, 40 arrive at once.
    study = make_annotation_study(items=6, k=4, per_participant=3)
    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = Counter(pool.map(lambda index: arrive(study, f"W{index}"), range(40)))
    assert outcomes == {"allocated": 8, "full": 32}
    per_item = Counter(AnnotationAllocation.objects.values_list("item__key", flat=True))
    assert per_item == {f"pair-{index}": 4 for index in range(6)}
    pairs = list(AnnotationAllocation.objects.values_list("participant_id", "item_id"))
    assert len(pairs) == len(set(pairs))
