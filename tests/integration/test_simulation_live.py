"""Simulated participants against a running server (pytest-django's live_server) over real HTTP."""
from __future__ import annotations

import io
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from studies.models import Participant, Study
from tests.studies.factories import make_study, make_user

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def test_bots_take_the_study_through_a_live_server_with_csrf(live_server):
    study = make_study(owner=make_user(), slug="live-sim", platform=Study.Platform.PROLIFIC)
    out = io.StringIO()
    call_command("simulate_participants", study.slug, "--n", "12", "--base-url", live_server.url,
                 "--concurrency", "3", "--abandon-share", "0.17", "--attention-fail-share", "0.09",
                 stdout=out, stderr=io.StringIO())

    participants = Participant.objects.filter(study=study)
    assert participants.count() == 12 and all(p.is_simulated for p in participants)
    assert all(p.external_id.startswith("SIM-") for p in participants)
    assert Counter(p.status for p in participants) == {"completed": 9, "active": 2, "failed_attention": 1}
    # Balance: completed plus still-active participants per condition differ by at most one.
    taken = Counter(p.condition.slug for p in participants if p.status in ("completed", "active"))
    assert max(taken.values()) - min(taken.values()) <= 1
    assert "stuck: 0" in out.getvalue()


def test_a_server_on_another_database_is_reported_as_stuck(live_server, monkeypatch):
    study = make_study(owner=make_user(), slug="other-db-sim", platform=Study.Platform.LINK)

    from studies import simulation
    from studies.simulation import runner

    class _OtherDatabase(simulation.ParticipantRegistry):
        """Looks the records up in a study the server never wrote to, as a runner on another database would."""

        def __init__(self, study_slug: str) -> None:
            super().__init__("no-such-study")

    monkeypatch.setattr(runner, "ParticipantRegistry", _OtherDatabase)
    with pytest.raises(CommandError, match="not in this database"):
        call_command("simulate_participants", study.slug, "--n", "1", "--base-url", live_server.url,
                     stdout=io.StringIO(), stderr=io.StringIO())
