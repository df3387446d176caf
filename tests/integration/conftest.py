"""Fixtures for integration tests against the real services (PostgreSQL, a broker, a Celery worker).

Integration tests are skipped, not failed, when DATABASE_URL is not PostgreSQL: they exercise row locks
and a separate worker process, which the embedded SQLite default cannot stand in for.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT_S = 90


def _is_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if _is_postgres():
        return
    skip = pytest.mark.skip(reason="integration tests need DATABASE_URL pointing at PostgreSQL "
                                   "(e.g. postgres://postgres@127.0.0.1:5432/studyserver_ci)")
    for item in items:
        if "integration" in item.keywords and Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


def worker_database_url() -> str:
    """DATABASE_URL of the database pytest-django created for this run (test_<name>), for subprocesses."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{db['NAME']}"


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real `celery worker` subprocess consuming the default and gpu queues, on the test database.

    Yields the Popen object; its output so far is in `process.output_lines`. Killed at teardown.
    """
    broker = os.environ.get("CELERY_BROKER_URL")
    if not broker:
        pytest.skip("CELERY_BROKER_URL is not set: no broker for a real Celery worker")
    if not _is_postgres():
        pytest.skip("a Celery worker process needs a shared PostgreSQL test database")
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": os.environ.get("CELERY_RESULT_BACKEND", ""),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "STUDYSERVER_ARTIFACTS": str(settings.ARTIFACTS_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studyserver", "worker", "-Q", "default,gpu", "--pool=solo",
         "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"pytest-{os.getpid()}@%h"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    process.output_lines = []
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            process.output_lines.append(line)
            if " ready." in line:
                ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
    while not ready.wait(0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            output = "".join(process.output_lines[-40:])
            pytest.fail(f"the Celery worker did not become ready:\n{output}")
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        reader.join(5)
