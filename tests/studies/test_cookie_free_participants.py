"""Participant pages work without any cookie (MTurk's cross-site iframe, Safari, blocked third-party cookies),
and their forms are still protected against forgery by a token bound to the participant and the page."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from studies.forgery import form_token_for
from studies.models import Participant, Response, Study

from .factories import GOOD_STIMULUS_ANSWERS, make_study

MTURK = {"assignmentId": "A-1", "hitId": "H-1", "workerId": "W-1", "turkSubmitTo": "https://www.mturk.com"}
_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class CookielessBrowser:
    """A client that, like a browser in a cross-site iframe with third-party cookies blocked, never sends a
    cookie back, and that enforces CSRF checks as a real browser request would meet them."""

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)
        self.set_cookies: list[str] = []

    def _forget(self, response):
        self.set_cookies.extend(response.cookies.keys())
        self.client.cookies.clear()
        return response

    def get(self, url, params=None):
        self.client.cookies.clear()
        return self._forget(self.client.get(url, params))

    def post(self, url, data, **extra):
        self.client.cookies.clear()
        return self._forget(self.client.post(url, data, **extra))


def form_token(response) -> str:
    match = _TOKEN.search(response.content.decode())
    assert match, "the page has no form token"
    return match.group(1)


def submit(browser: CookielessBrowser, url: str, **fields):
    """GET the page like a browser, then POST its form with the token it carries."""
    token = form_token(browser.get(url))
    data = {"csrfmiddlewaretoken": token}
    for name, value in fields.items():
        data[name if name in ("action", "consent") else f"item-{name}"] = value
    return browser.post(url, data)


@pytest.fixture
def mturk_study(researcher):
    return make_study(owner=researcher, slug="turk-study", platform=Study.Platform.MTURK)


@pytest.mark.django_db
def test_an_mturk_worker_completes_the_study_without_any_cookie(mturk_study):
    browser = CookielessBrowser()
    consent = browser.get(f"/s/{mturk_study.slug}/", MTURK)["Location"]
    instructions = submit(browser, consent, consent="yes")["Location"]
    stimulus = submit(browser, instructions, action="next")["Location"]
    satisfaction = submit(browser, stimulus, action="next", **GOOD_STIMULUS_ANSWERS)["Location"]
    free_text = submit(browser, satisfaction, action="next", useful=4)["Location"]
    complete = submit(browser, free_text, action="next", comments="fine")["Location"]
    page = browser.get(complete)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'action="https://www.mturk.com/mturk/externalSubmit"' in html
    assert 'name="assignmentId" value="A-1"' in html
    participant = Participant.objects.get(study=mturk_study)
    assert participant.status == Participant.Status.COMPLETED
    assert participant.responses.count() == 5
    # The flow never needed Django's CSRF cookie (nor a session).
    assert "csrftoken" not in browser.set_cookies and "sessionid" not in browser.set_cookies


@pytest.mark.django_db
def test_autosave_without_cookies_uses_the_header_token(mturk_study):
    browser = CookielessBrowser()
    consent = browser.get(f"/s/{mturk_study.slug}/", MTURK)["Location"]
    instructions = submit(browser, consent, consent="yes")["Location"]
    stimulus = submit(browser, instructions, action="next")["Location"]
    token = form_token(browser.get(stimulus))
    saved = browser.post(stimulus + "save/", {"answers": {"arms": 3}}, content_type="application/json",
                         HTTP_X_CSRFTOKEN=token)
    assert saved.status_code == 200 and saved.json() == {"saved": ["arms"]}
    forged = browser.post(stimulus + "save/", {"answers": {"arms": 5}}, content_type="application/json")
    assert forged.status_code == 403 and "form" in forged.json()["errors"]
    assert Response.objects.get(item__key="arms").value_int == 3


@pytest.mark.django_db
def test_forged_and_foreign_forms_are_refused_and_change_nothing(mturk_study):
    victim, attacker = CookielessBrowser(), CookielessBrowser()
    consent = victim.get(f"/s/{mturk_study.slug}/", MTURK)["Location"]
    other_consent = attacker.get(f"/s/{mturk_study.slug}/", {**MTURK, "workerId": "W-2",
                                                              "assignmentId": "A-2"})["Location"]
    other_token = form_token(attacker.get(other_consent))
    own_token = form_token(victim.get(consent))
    attempts = [
        {"consent": "yes"},  # no token at all (a cross-site form)
        {"consent": "yes", "csrfmiddlewaretoken": "0" * 64},  # a made-up token
        {"consent": "yes", "csrfmiddlewaretoken": other_token},  # another participant's form, replayed
    ]
    for data in attempts:
        response = victim.post(consent, data)
        assert response.status_code == 403 and b"nothing was changed" in response.content
    foreign = victim.post(consent, {"consent": "yes", "csrfmiddlewaretoken": own_token},
                          HTTP_ORIGIN="https://evil.example")
    assert foreign.status_code == 403
    victim_record = Participant.objects.get(external_id="W-1")
    assert victim_record.condition is None and victim_record.current_page == "consent"
    # A token is bound to its page too: the consent page's token does not open the instructions page.
    accepted = victim.post(consent, {"consent": "yes", "csrfmiddlewaretoken": own_token},
                           HTTP_ORIGIN="http://testserver")
    assert accepted.status_code == 302
    instructions = accepted["Location"]
    stale = victim.post(instructions, {"action": "next", "csrfmiddlewaretoken": own_token})
    assert stale.status_code == 403
    victim_record.refresh_from_db()
    assert victim_record.current_page == "instructions"


@pytest.mark.django_db
def test_the_form_token_is_an_hmac_of_the_participant_and_the_page(settings):
    first = form_token_for(participant_token="abc", page="consent")
    assert first == form_token_for(participant_token="abc", page="consent")
    assert first != form_token_for(participant_token="abd", page="consent")
    assert first != form_token_for(participant_token="abc", page="stimulus")
    settings.SECRET_KEY = "another key entirely, long enough to be a key"
    assert first != form_token_for(participant_token="abc", page="consent")


@pytest.mark.django_db
def test_researcher_views_keep_djangos_csrf_check(researcher):
    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    response = client.post("/admin/logout/")
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_reaccepted_assignment_submits_the_new_assignment_id(mturk_study):
    browser = CookielessBrowser()
    consent = browser.get(f"/s/{mturk_study.slug}/", MTURK)["Location"]
    submit(browser, consent, consent="yes")
    # The worker returns the HIT and accepts it again: MTurk sends the same workerId with a new assignment.
    again = browser.get(f"/s/{mturk_study.slug}/", {**MTURK, "assignmentId": "A-NEW", "hitId": "H-1"})
    instructions = again["Location"]
    stimulus = submit(browser, instructions, action="next")["Location"]
    satisfaction = submit(browser, stimulus, action="next", **GOOD_STIMULUS_ANSWERS)["Location"]
    free_text = submit(browser, satisfaction, action="next", useful=4)["Location"]
    complete = submit(browser, free_text, action="next")["Location"]
    html = browser.get(complete).content.decode()
    assert 'name="assignmentId" value="A-NEW"' in html and "A-1" not in html
    assert Participant.objects.count() == 1


@pytest.mark.django_db
def test_frame_ancestors_name_the_mturk_worker_sites_and_are_configurable(mturk_study, settings):
    response = Client().get(f"/s/{mturk_study.slug}/", MTURK)
    policy = response["Content-Security-Policy"]
    assert "https://worker.mturk.com" in policy and "https://workersandbox.mturk.com" in policy
    assert "https://www.mturk.com" in policy
    settings.MTURK_FRAME_ANCESTORS = ["https://frames.example.org"]
    policy = Client().get(f"/s/{mturk_study.slug}/", MTURK)["Content-Security-Policy"]
    assert "https://frames.example.org" in policy and "https://worker.mturk.com" not in policy
