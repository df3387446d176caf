"""Faults: web workers die mid-request, the database connection drops.

The Celery worker being SIGKILLed mid-grid and restarted is covered by tests/integration/test_grid_worker.py
(the grid stays unpublished, then completes once a new worker picks the unacknowledged task up again).
"""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from bench import load
from studies.models import Response
from studies.views import participant_url
from tests.integration.live_gunicorn import (
    EXAMPLE_SLUG,
    gunicorn_on_test_database,
    load_unlimited_example_study,
    simulated_flagger,
)
from tests.studies.factories import GOOD_STIMULUS_ANSWERS, make_study, make_user
from tests.test_reliability import answer_page, assert_clear_503, consented_participant

PARTICIPANTS = 24


def _serving(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds an established client connection on local ``port`` (from /proc: its
    socket inodes, matched against /proc/net/tcp*, state 01; its database connections do not count)."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")
                  if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    except OSError:
        return False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (len(fields) > 9 and fields[3] == "01" and fields[9] in inodes
                    and int(fields[1].rsplit(":", 1)[1], 16) == port):
                return True
    return False


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_participants_who_retry_lose_nothing_when_gunicorn_workers_are_sigkilled(transactional_db):
    load_unlimited_example_study()
    killed: list[int] = []
    with simulated_flagger() as flagger, gunicorn_on_test_database(workers=2, threads=2) as server:
        done = threading.Event()

        def kill_workers() -> None:
            # SIGKILL a web worker while it serves a request (the master forks a replacement), at most every
            # 0.6 s, six times. A page takes milliseconds, so a kill at a random moment mostly meets an idle
            # worker: wait for one with a client connection open (gunicorn runs without keep-alive here, so an
            # open connection is a request in flight).
            time.sleep(1.0)
            port = int(server.base_url.rsplit(":", 1)[1])
            while not done.is_set() and len(killed) < 6:
                victim = next((pid for pid in server.worker_pids() if _serving(pid, port)), None)
                if victim is None:
                    time.sleep(0.005)
                    continue
                try:
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                except ProcessLookupError:
                    pass
                done.wait(0.6)

        killer = threading.Thread(target=kill_workers)
        killer.start()
        try:
            result = load.drive(base_url=server.base_url, slug=EXAMPLE_SLUG, n=PARTICIPANTS, registry=flagger,
                                arrival_seconds=3.0, seed=11, retries=8,
                                pause=lambda page: time.sleep(0.15))
        finally:
            done.set()
            killer.join()
        log = server.log_tail(60)

    assert len(killed) >= 3, "the run ended before the workers could be killed"
    assert result.retries > 0 and any(t.status == 0 for t in result.timings), (
        "no request was hit by a worker kill, so nothing was tested")
    assert result.errors == [], log
    assert result.finished == PARTICIPANTS
    verification = load.verify(slug=EXAMPLE_SLUG, result=result)
    assert verification.problems == []
    assert sum(verification.completed_per_condition.values()) == PARTICIPANTS


# --- lost database connection (the in-process outage test is in tests/test_reliability.py) -----------


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_terminated_postgresql_connection_gives_a_503_and_the_next_request_reconnects(transactional_db):
    """The server kills our backend (pg_terminate_backend, as on a failover); the middleware drops the dead
    connection, so the participant's reload reconnects and continues."""
    import psycopg

    from tests.integration.conftest import worker_database_url

    study = make_study(owner=make_user(), slug="pg-terminated")
    client = Client()
    participant = consented_participant(client, study)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    url = "postgresql://" + worker_database_url().split("://", 1)[1]
    stimulus_url = participant_url(participant, "stimulus")
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (backend_pid,)).fetchone()[0] is True

    assert_clear_503(answer_page(client, stimulus_url, "stimulus", GOOD_STIMULUS_ANSWERS))
    assert connection.connection is None  # the middleware closed the dead connection

    moved = answer_page(client, participant, "stimulus", GOOD_STIMULUS_ANSWERS)
    assert moved.status_code == 302 and moved["Location"].endswith("/satisfaction/")
    stored = dict(Response.objects.filter(participant=participant).values_list("item__key", "value_int"))
    assert stored == GOOD_STIMULUS_ANSWERS


def _terminate_other_backends() -> int:
    """pg_terminate_backend for every other connection to the test database (a restart, as the web processes
    see it); returns how many."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_the_health_check_sends_nothing_on_a_quiet_connection(transactional_db, monkeypatch):
    """studyserver/postgresql: between requests a quiet connection is trusted without a SELECT 1."""
    assert connection.settings_dict["ENGINE"] == "studyserver.postgresql" and connection.health_check_enabled
    connection.ensure_connection()
    raw = connection.connection

    def no_statement(*args, **kwargs):
        raise AssertionError("the health check sent a statement on a quiet connection")

    with monkeypatch.context() as patched:
        patched.setattr(raw, "cursor", no_statement)
        connection.health_check_done = False
        connection.close_if_health_check_failed()
    assert connection.connection is raw and connection.health_check_done


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(transactional_db):
    """The server ends our connection between two requests: the next request's health check sees it on the
    socket and reconnects, so the request succeeds (no 503)."""
    import psycopg

    from tests.integration.conftest import worker_database_url

    connection.ensure_connection()
    before = connection.connection.info.backend_pid
    url = "postgresql://" + worker_database_url().split("://", 1)[1]
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (before,)).fetchone()[0] is True
    deadline = time.monotonic() + 10
    while connection.connection_is_quiet() and time.monotonic() < deadline:
        time.sleep(0.05)  # the backend ends on its signal, a moment later
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != before


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_gunicorn_workers_answer_right_after_their_database_connections_were_ended(transactional_db):
    """A restart of the database between requests costs no request a 503: each web thread's kept
    connection is found closed by the health check and replaced."""
    import urllib.request

    with gunicorn_on_test_database(workers=1, threads=1) as server:
        def health() -> int:
            with urllib.request.urlopen(f"{server.base_url}/healthz/", timeout=30) as response:
                return response.status

        assert health() == 200  # the worker's thread now keeps a connection
        assert _terminate_other_backends() >= 1
        time.sleep(0.5)
        assert [health() for _ in range(3)] == [200, 200, 200], server.log_tail(30)
