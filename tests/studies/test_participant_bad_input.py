"""Bad input over HTTP: a clear message on the page (or 4xx JSON naming the field) and nothing changed."""
from __future__ import annotations

import pytest
from django.test import Client

from studies.models import FREE_TEXT_MAX_LENGTH, Participant, PageVisit, Response, ResponseRevision

from .factories import GOOD_STIMULUS_ANSWERS
from .test_participant_views import page_url, start


def state():
    return (sorted(Response.objects.values_list("item_id", "value_int", "value_text")),
            ResponseRevision.objects.count(),
            sorted(Participant.objects.values_list("status", "current_page")))


@pytest.fixture
def on_stimulus(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    stimulus = page_url(url, "stimulus")
    client.post(stimulus + "save/", {"answers": {"arms": 1}}, content_type="application/json")
    return client, stimulus


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields,message",
    [
        ({"item-arms": "9"}, b"Choose one of the points 1 to 7"),
        ({"item-arms": "2.5"}, b"Choose one of the points 1 to 7"),
        ({"item-arms": "abc"}, b"Choose one of the points 1 to 7"),
        ({"item-bogus": "3"}, b"Unknown item"),
        ({"item-useful": "3"}, b"Unknown item"),
        ({}, b"Please answer this question."),
    ],
)
def test_the_page_shows_a_clear_message_and_nothing_is_stored(on_stimulus, fields, message):
    client, stimulus = on_stimulus
    before = state()
    data = {**{f"item-{k}": v for k, v in GOOD_STIMULUS_ANSWERS.items()}, **fields, "action": "next"}
    if not fields:
        data.pop("item-colour")
    response = client.post(stimulus, data)
    assert response.status_code == 400 and message in response.content
    assert state() == before


@pytest.mark.django_db
def test_oversized_text_gets_a_message_on_the_page(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    client.post(page_url(url, "stimulus"), {**{f"item-{k}": v for k, v in GOOD_STIMULUS_ANSWERS.items()},
                                             "action": "next"})
    client.post(page_url(url, "satisfaction"), {"item-useful": "4", "action": "next"})
    before = state()
    response = client.post(page_url(url, "free_text"), {"item-comments": "y" * (FREE_TEXT_MAX_LENGTH + 10),
                                                         "action": "next"})
    assert response.status_code == 400 and b"at most 5000 characters" in response.content
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,field,status",
    [
        ({"answers": {"arms": 0}}, "arms", 400),
        ({"answers": {"arms": "x"}}, "arms", 400),
        ({"answers": {"ghost": 1}}, "ghost", 400),
        ({"answers": {"useful": 1}}, "useful", 400),
        ({"answers": ["arms", 1]}, "answers", 400),
        ({}, "answers", 400),
    ],
)
def test_autosave_answers_4xx_json_naming_the_field(on_stimulus, body, field, status):
    client, stimulus = on_stimulus
    before = state()
    response = client.post(stimulus + "save/", body, content_type="application/json")
    assert response.status_code == status and field in response.json()["errors"]
    assert state() == before


@pytest.mark.django_db
def test_autosave_rejects_malformed_json_and_other_pages(on_stimulus):
    client, stimulus = on_stimulus
    before = state()
    response = client.post(stimulus + "save/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "answers" in response.json()["errors"]
    other = stimulus.replace("/stimulus/", "/satisfaction/") + "save/"
    response = client.post(other, {"answers": {"useful": 2}}, content_type="application/json")
    assert response.status_code == 409 and "page" in response.json()["errors"]
    assert state() == before


@pytest.mark.django_db
def test_a_tampered_token_cannot_save(on_stimulus):
    client, stimulus = on_stimulus
    before = state()
    tampered = stimulus.replace("/p/", "/p/x", 1)
    response = client.post(tampered + "save/", {"answers": {"arms": 2}}, content_type="application/json")
    assert response.status_code == 404
    assert state() == before


@pytest.mark.django_db
def test_csrf_protection_stays_on(study):
    client = Client(enforce_csrf_checks=True)
    consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "csrf"})["Location"]
    assert client.post(consent, {"consent": "yes"}).status_code == 403
    assert Participant.objects.get().condition is None
    assert not PageVisit.objects.filter(page="instructions").exists()
