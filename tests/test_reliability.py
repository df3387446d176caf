"""Reliability in-process: a lost database gives a clear 503 page; oversized or over-long requests are cut off.

The PostgreSQL and gunicorn versions of these faults are in tests/integration/test_faults.py.
"""
from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.test import Client
from rest_framework.authtoken.models import Token

from studies.models import Participant, Response, ResponseRevision, Study
from studies.views import participant_url
from tests.studies.factories import GOOD_STIMULUS_ANSWERS, make_study, make_user


def answer_page(client: Client, participant: Participant | str, page: str, answers: dict):
    url = participant if isinstance(participant, str) else participant_url(participant, page)
    data = {f"item-{key}": value for key, value in answers.items()}
    return client.post(url, {**data, "action": "next"})


def consented_participant(client: Client, study: Study, pid: str = "db-fault-1") -> Participant:
    entry = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": "x"})
    assert entry.status_code == 302
    participant = Participant.objects.get(study=study, external_id=pid)
    assert client.post(participant_url(participant, "consent"), {"consent": "yes"}).status_code == 302
    assert client.post(participant_url(participant, "instructions"), {"action": "next"}).status_code == 302
    participant.refresh_from_db()
    assert participant.current_page == "stimulus"
    return participant


def assert_clear_503(response) -> None:
    assert response.status_code == 503
    body = response.content.decode()
    assert "right back" in body and "reload this page" in body
    for leak in ("Traceback", "OperationalError", "InterfaceError", "File \"", "site-packages"):
        assert leak not in body
    assert response["Retry-After"] == "10"


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   InterfaceError("connection already closed")])
@pytest.mark.django_db(transaction=True)
def test_a_database_outage_shows_a_503_page_and_the_participant_continues_afterwards(error):
    """Every query fails (as while PostgreSQL restarts): a clear 503, nothing stored, then the flow resumes."""
    study = make_study(owner=make_user(), slug="db-outage")
    client = Client()
    participant = consented_participant(client, study)

    def database_down(execute, sql, params, many, context):
        raise error

    stimulus_url = participant_url(participant, "stimulus")
    with connection.execute_wrapper(database_down):
        assert_clear_503(client.get(stimulus_url))
        assert_clear_503(answer_page(client, stimulus_url, "stimulus", GOOD_STIMULUS_ANSWERS))
        assert_clear_503(client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "newcomer", "STUDY_ID": "s",
                                                          "SESSION_ID": "y"}))
    assert not Response.objects.filter(participant=participant).exists()
    assert not Participant.objects.filter(external_id="newcomer").exists()

    assert client.get(participant_url(participant, "stimulus")).status_code == 200
    moved = answer_page(client, participant, "stimulus", GOOD_STIMULUS_ANSWERS)
    assert moved.status_code == 302 and moved["Location"].endswith("/satisfaction/")
    stored = dict(Response.objects.filter(participant=participant).values_list("item__key", "value_int"))
    assert stored == GOOD_STIMULUS_ANSWERS


# --- configured limits ----------------------------------------------------------------------------------


@pytest.fixture
def stimulus_participant(db):
    study = make_study(owner=make_user(), slug="limits")
    client = Client()
    return client, consented_participant(client, study, pid="limits-1")


def _nothing_stored(participant: Participant) -> None:
    assert not Response.objects.filter(participant=participant).exists()
    assert not ResponseRevision.objects.filter(response__participant=participant).exists()
    participant.refresh_from_db()
    assert participant.current_page == "stimulus"


def test_an_oversized_form_post_is_refused_with_400_and_stores_nothing(stimulus_participant):
    client, participant = stimulus_participant
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    data = {f"item-{k}": v for k, v in GOOD_STIMULUS_ANSWERS.items()}
    response = client.post(participant_url(participant, "stimulus"), {**data, "action": "next", "pad": padding})
    assert response.status_code == 400
    assert b"Traceback" not in response.content
    _nothing_stored(participant)


def test_a_form_with_too_many_fields_is_refused_with_400(stimulus_participant):
    client, participant = stimulus_participant
    fields = {f"item-x{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = client.post(participant_url(participant, "stimulus"), {**fields, "action": "next"})
    assert response.status_code == 400
    _nothing_stored(participant)


def test_an_oversized_autosave_body_is_refused_with_400(stimulus_participant):
    client, participant = stimulus_participant
    body = json.dumps({"answers": {"arms": 6, "pad": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}})
    url = participant_url(participant, "stimulus").rstrip("/") + "/save/"
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400
    _nothing_stored(participant)


def test_an_oversized_api_body_is_refused_and_creates_nothing(db):
    researcher = make_user(is_staff=True)
    token = Token.objects.create(user=researcher)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = json.dumps({"slug": "huge", "title": "Huge", "description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    response = client.post("/api/studies/", body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.status_code
    assert not Study.objects.filter(slug="huge").exists()


# --- known 5xx found by schemathesis (tests/integration/test_schemathesis.py) ---------------------------


@pytest.mark.django_db
def test_the_sample_size_api_answers_400_for_an_effect_it_cannot_solve():
    researcher = make_user(is_staff=True)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=researcher).key}",
                    raise_request_exception=False)
    response = client.post("/api/sample-size/", {"d": 1.04533957117164e209, "family_size": 3},
                           content_type="application/json")
    assert response.status_code == 400
