"""40 participants arrive at once and complete the study against gunicorn (2 gthread workers) on PostgreSQL.

The CI-sized version of bench/load.py: zero errors, every answer each participant sent stored exactly once,
completed counts per condition balanced, no torch in the web workers. Never timing.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from bench import load
from studies.models import Participant, Response
from tests.integration.live_gunicorn import (
    EXAMPLE_SLUG,
    gunicorn_on_test_database,
    load_unlimited_example_study,
    simulated_flagger,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

PARTICIPANTS = 40


def test_forty_concurrent_participants_lose_nothing_and_stay_balanced(transactional_db):
    study = load_unlimited_example_study()
    with simulated_flagger() as flagger, gunicorn_on_test_database(workers=2, threads=4) as server:
        result = load.drive(base_url=server.base_url, slug=EXAMPLE_SLUG, n=PARTICIPANTS, registry=flagger,
                            arrival_seconds=2.0, seed=7)
        workers = server.worker_pids()
        memory = [load.process_memory(pid) for pid in workers]
        log = server.log_tail()

    assert result.errors == [], log
    assert result.finished == PARTICIPANTS
    assert all(t.status in (200, 302) for t in result.timings)
    verification = load.verify(slug=EXAMPLE_SLUG, result=result)
    assert verification.problems == []
    completed = verification.completed_per_condition
    assert sum(completed.values()) == PARTICIPANTS and set(completed.values()) == {PARTICIPANTS // 2}
    # Every participant answered the 11 Likert items and at least the required free-text item.
    assert all(len(run.sent) >= 12 for run in result.participants)
    assert Response.objects.filter(participant__study=study).count() == sum(len(r.sent) for r in result.participants)
    assert Participant.objects.filter(study=study, is_simulated=False).count() == 0
    assert len(workers) == 2 and not any(torch_mapped for _, torch_mapped in memory), memory


def test_the_torch_probe_detects_a_process_that_imported_torch():
    """Guards the 'no torch in web workers' check above against passing vacuously."""
    probe = subprocess.Popen([sys.executable, "-c", "import torch, sys; print('ready', flush=True); "
                              "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert probe.stdout.readline().strip() == "ready"
        rss_mib, torch_mapped = load.process_memory(probe.pid)
        assert torch_mapped and rss_mib > 50
    finally:
        probe.kill()
        probe.wait(10)
