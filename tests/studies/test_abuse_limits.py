"""Abuse limits: DRF throttles on the API, new participants per address, participant POSTs per token."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from studies import ratelimit
from studies.models import Participant

from .test_participant_views import page_url


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """Every request of a test in the same minute's window (a test that straddled a minute saw its count
    start again)."""
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))


@pytest.mark.django_db
def test_new_participants_per_address_are_limited(study, settings):
    settings.PARTICIPANT_ENTRY_LIMIT_PER_MINUTE = 3
    statuses = [Client(REMOTE_ADDR="203.0.113.5").get(f"/s/{study.slug}/", {"PROLIFIC_PID": f"p{n}"}).status_code
                for n in range(5)]
    assert statuses == [302, 302, 302, 429, 429]
    assert Participant.objects.count() == 3
    # Another address is not affected.
    assert Client(REMOTE_ADDR="198.51.100.7").get(f"/s/{study.slug}/", {"PROLIFIC_PID": "q"}).status_code == 302


@pytest.mark.django_db
def test_posts_per_participant_token_are_limited(study, settings):
    settings.PARTICIPANT_POST_LIMIT_PER_MINUTE = 2
    client = Client()
    consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "p1"})["Location"]
    instructions = client.post(consent, {"consent": "yes"})["Location"]
    client.post(instructions, {"action": "next"})
    save = page_url(instructions, "stimulus") + "save/"
    limited = client.post(save, {"answers": {"arms": 3}}, content_type="application/json")
    assert limited.status_code == 429 and "form" in limited.json()["errors"]
    assert not Participant.objects.get().responses.exists()


@pytest.mark.django_db
def test_drf_throttles_are_enabled_for_anonymous_and_researcher_calls(study, settings):
    from rest_framework.settings import api_settings

    assert "rest_framework.throttling.AnonRateThrottle" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    rates = {"anon": "2/min", "user": "3/min"}
    original = api_settings.DEFAULT_THROTTLE_RATES
    from rest_framework.throttling import SimpleRateThrottle

    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        # Every API call needs an account (anonymous ones get 401 before throttling); researchers are
        # throttled per account.
        api = APIClient()
        api.force_authenticate(study.owner)
        researcher = [api.get("/api/studies/").status_code for _ in range(4)]
        assert researcher == [200, 200, 200, 429]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
