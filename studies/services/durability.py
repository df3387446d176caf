"""How durable a participant-path transaction's commit must be before the request goes on."""
from __future__ import annotations

from django.db import connection


def commit_flushed_by_consent() -> None:
    """PostgreSQL: the current transaction's COMMIT returns without waiting for its WAL to reach the disk
    (SET LOCAL synchronous_commit = off, this transaction only). Call it first thing inside the allocation at
    consent, and nowhere else.

    Why it is safe there: the allocation is followed, in the same request, by the consent transaction
    (services.participant_consent), whose synchronous COMMIT flushes the WAL up to itself, and the WAL is
    written in order, so the allocation is on disk before the participant sees the next page. A crash in
    between loses both (no consent, no condition: the consent page again), never one of them. Why it
    matters: the allocation holds the study's row lock, so every participant consenting at the same moment
    waits for the one before, including its disk flush (bench/flow: POST consent p50 480 ms, 4x the other
    pages, when 50 participants arrive at once). SQLite serialises writers anyway and keeps its setting.
    """
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
