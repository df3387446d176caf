"""The participant flow over HTTP: entry per platform, consent, pages, resume, back, completion."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from studies.models import PageVisit, Participant, Response, ResponseRevision, Study

from .factories import GOOD_STIMULUS_ANSWERS, make_study

PROLIFIC = {"PROLIFIC_PID": "pid-001", "STUDY_ID": "st-1", "SESSION_ID": "se-1"}


def enter(client: Client, study: Study, params=None):
    return client.get(f"/s/{study.slug}/", params or PROLIFIC)


def post(client, url, **data):
    return client.post(url, {f"item-{k}" if k not in ("action", "consent") else k: v for k, v in data.items()})


def start(client: Client, study: Study, params=None) -> tuple[Participant, str]:
    """Enter and consent; returns the participant and the URL of their instructions page."""
    response = enter(client, study, params)
    assert response.status_code == 302
    consent_url = response["Location"]
    assert consent_url.endswith("/consent/")
    response = client.post(consent_url, {"consent": "yes"})
    assert response.status_code == 302
    participant = Participant.objects.get(study=study)
    return participant, response["Location"]


def page_url(instructions_url: str, page: str) -> str:
    return instructions_url.replace("/instructions/", f"/{page}/")


@pytest.mark.django_db
def test_a_prolific_participant_completes_and_is_redirected_with_the_completion_code(study, settings):
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    client = Client()
    client.get(enter(client, study)["Location"])
    participant, url = start(client, study)
    assert participant.external_id == "pid-001" and participant.platform_session_id == "se-1"
    assert participant.condition is not None
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "next"})
    stimulus = response["Location"]
    assert stimulus.endswith("/stimulus/")
    page = client.get(stimulus)
    assert page.status_code == 200
    assert participant.condition.stimulus_image.url.encode() in page.content
    response = post(client, stimulus, action="next", **GOOD_STIMULUS_ANSWERS)
    assert response["Location"].endswith("/satisfaction/")
    assert client.get(response["Location"]).status_code == 200
    response = post(client, response["Location"], action="next", useful=5)
    assert response["Location"].endswith("/free_text/")
    assert client.get(response["Location"]).status_code == 200
    response = post(client, response["Location"], action="next", comments="Nice grid.")
    assert response["Location"].endswith("/complete/")
    final = client.get(response["Location"])
    # The last page shows the code (in case the redirect fails), then sends the participant to Prolific.
    prolific = "https://app.prolific.com/submissions/complete?cc=DONE123"
    assert final.status_code == 200
    page = final.content.decode()
    assert 'id="completion-code">DONE123<' in page
    assert f'<meta http-equiv="refresh" content="3; url={prolific}">' in page
    assert f'id="return"' in page and f'href="{prolific}"' in page
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED and participant.completed_at
    answers = {r.item.key: (r.value_int, r.value_text) for r in participant.responses.all()}
    assert answers == {"arms": (6, ""), "colour": (3, ""), "attn": (2, ""), "useful": (5, ""),
                       "comments": (None, "Nice grid.")}
    visited = set(PageVisit.objects.filter(participant=participant).values_list("page", flat=True))
    assert {"consent", "instructions", "stimulus", "satisfaction", "free_text"} <= visited
    assert all(v.seconds is not None and v.seconds >= 0 for v in PageVisit.objects.exclude(left_at=None))


@pytest.mark.django_db
def test_a_failed_attention_check_gets_the_attention_code(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    post(client, page_url(url, "stimulus"), action="next", **{**GOOD_STIMULUS_ANSWERS, "attn": 7})
    post(client, page_url(url, "satisfaction"), action="next", useful=4)
    response = post(client, page_url(url, "free_text"), action="next")
    final = client.get(response["Location"]).content.decode()
    refresh = re.search(r'http-equiv="refresh" content="3; url=([^"]+)"', final).group(1)
    assert parse_qs(urlsplit(refresh).query) == {"cc": ["ATTN456"]}
    participant.refresh_from_db()
    assert participant.status == Participant.Status.FAILED_ATTENTION and participant.attention_failed


@pytest.mark.django_db
def test_a_reload_resumes_on_the_same_page_with_answers_kept(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    stimulus = page_url(url, "stimulus")
    save = client.post(stimulus + "save/", {"answers": {"arms": 4}}, content_type="application/json")
    assert save.status_code == 200 and save.json() == {"saved": ["arms"]}
    # Opening the study link again (same Prolific id) lands on the same page with the answer checked.
    response = enter(client, study)
    assert response["Location"] == stimulus
    page = client.get(stimulus)
    assert b'name="item-arms" value="4" data-item="arms" checked' in page.content
    assert Participant.objects.filter(study=study).count() == 1


def test_reloads_continue_the_open_visit_and_a_return_opens_a_new_one(study):
    client = Client()
    participant, url = start(client, study)
    stimulus = page_url(url, "stimulus")
    client.post(url, {"action": "next"})
    for _ in range(3):  # reloads, some at the same moment in real life: still one open visit
        assert client.get(stimulus).status_code == 200
    visits = list(PageVisit.objects.filter(participant=participant, page="stimulus"))
    assert len(visits) == 1 and visits[0].left_at is None
    first_entered = visits[0].entered_at
    post(client, stimulus, action="next", **GOOD_STIMULUS_ANSWERS)
    post(client, page_url(url, "satisfaction"), action="back")
    client.get(stimulus)
    visits = list(PageVisit.objects.filter(participant=participant, page="stimulus").order_by("entered_at", "pk"))
    assert len(visits) == 2
    assert visits[0].entered_at == first_entered and visits[0].left_at is not None and visits[0].seconds >= 0
    assert visits[1].left_at is None and visits[1].entered_at >= visits[0].left_at


def test_closing_a_visit_stores_when_and_how_long(study):
    from datetime import timedelta

    from django.utils import timezone

    from studies.services import page_visit_close, page_visit_open

    participant, _ = start(Client(), study)
    page_visit_open(participant=participant, page="stimulus")
    now = timezone.now()
    PageVisit.objects.filter(participant=participant, page="stimulus").update(entered_at=now - timedelta(seconds=12.5))
    page_visit_close(participant=participant, page="stimulus", now=now)
    visit = PageVisit.objects.get(participant=participant, page="stimulus")
    assert visit.left_at == now and abs(visit.seconds - 12.5) < 1e-3
    page_visit_close(participant=participant, page="stimulus", now=now + timedelta(seconds=5))  # nothing open
    assert PageVisit.objects.get(participant=participant, page="stimulus").left_at == now


@pytest.mark.django_db
def test_going_back_keeps_answers_and_changes_are_kept_as_revisions(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    post(client, page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    response = post(client, page_url(url, "satisfaction"), action="back", useful=3)
    assert response["Location"].endswith("/stimulus/")
    page = client.get(response["Location"])
    assert b'name="item-arms" value="6" data-item="arms" checked' in page.content
    post(client, page_url(url, "stimulus"), action="next", **{**GOOD_STIMULUS_ANSWERS, "arms": 2})
    page = client.get(page_url(url, "satisfaction"))
    assert b'name="item-useful" value="3" data-item="useful" checked' in page.content
    arms = Response.objects.get(participant=participant, item__key="arms")
    assert arms.value_int == 2
    assert list(ResponseRevision.objects.filter(response=arms).values_list("value_int", flat=True)) == [6, 2]


@pytest.mark.django_db
def test_pages_ahead_of_the_participant_redirect_back(study):
    client = Client()
    participant, url = start(client, study)
    response = client.get(page_url(url, "free_text"))
    assert response.status_code == 302 and response["Location"] == url


@pytest.mark.django_db
def test_declining_consent_ends_politely_and_keeps_only_the_decline(study):
    client = Client()
    consent = enter(client, study)["Location"]
    response = client.post(consent, {"consent": "no"})
    assert response.status_code == 200 and b"return the study" in response.content
    participant = Participant.objects.get(study=study)
    assert participant.status == Participant.Status.DECLINED
    assert participant.condition is None and participant.platform_session_id == ""
    assert not participant.responses.exists()
    # Only the decline is kept, as the page promises: no platform id, no page visit.
    assert participant.external_id == "" and not participant.page_visits.exists()
    # The declining session's own link still says so.
    assert b"chose not to take part" in client.get(consent).content


@pytest.mark.django_db
def test_a_completed_participant_sees_already_taken_part_and_cannot_submit(study):
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    post(client, page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    post(client, page_url(url, "satisfaction"), action="next", useful=5)
    post(client, page_url(url, "free_text"), action="next")
    before = list(Response.objects.values_list("pk", "value_int", "value_text", "updated_at"))
    response = enter(Client(), study)
    assert b"already taken part" in response.content
    refused = post(client, page_url(url, "satisfaction"), action="next", useful=1)
    assert refused.status_code == 409 and b"already completed" in refused.content
    # The same submission again (its response was lost, the browser retries) gets the original answer: the
    # redirect to the completion page, and nothing changes.
    retried = post(client, page_url(url, "satisfaction"), action="next", useful=5)
    assert retried.status_code == 302 and retried["Location"].endswith("/complete/")
    assert "cc=DONE" in client.get(retried["Location"]).content.decode()
    unanswered_optional = post(client, page_url(url, "free_text"), action="next", comments="")
    assert unanswered_optional.status_code == 302
    save = client.post(page_url(url, "stimulus") + "save/", {"answers": {"arms": 1}},
                       content_type="application/json")
    assert save.status_code == 409 and "participant" in save.json()["errors"]
    assert list(Response.objects.values_list("pk", "value_int", "value_text", "updated_at")) == before


@pytest.mark.django_db
@pytest.mark.parametrize("status,text", [(Study.Status.PAUSED, b"paused"), (Study.Status.CLOSED, b"closed"),
                                         (Study.Status.DRAFT, b"not started")])
def test_a_study_that_is_not_live_says_so(researcher, status, text):
    study = make_study(owner=researcher, status=status)
    response = enter(Client(), study)
    assert response.status_code == 200 and text in response.content
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_a_full_study_says_so_but_a_returning_participant_continues(researcher):
    study = make_study(owner=researcher, target_per_condition=1, conditions=1)
    client = Client()
    start(client, study)
    response = enter(Client(), study, {"PROLIFIC_PID": "someone-else"})
    assert b"full" in response.content
    assert enter(client, study).status_code == 302


@pytest.mark.django_db
def test_a_tampered_token_is_rejected(study):
    client = Client()
    participant, url = start(client, study)
    tampered = url.replace(participant.token[:4], "AAAA" if participant.token[:4] != "AAAA" else "BBBB", 1)
    assert client.get(tampered).status_code == 404
    forged = f"/s/{study.slug}/p/{participant.pk}/instructions/"
    assert client.post(forged, {"action": "next"}).status_code == 404
    participant.refresh_from_db()
    assert participant.current_page == "instructions"


@pytest.mark.django_db
def test_a_token_does_not_open_another_study(study, researcher):
    client = Client()
    participant, url = start(client, study)
    other = make_study(owner=researcher)
    assert client.get(url.replace(f"/s/{study.slug}/", f"/s/{other.slug}/")).status_code == 404


@pytest.mark.django_db
def test_a_prolific_link_without_pid_is_refused(study):
    response = Client().get(f"/s/{study.slug}/")
    assert response.status_code == 400 and b"PROLIFIC_PID" in response.content
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_mturk_preview_assigns_nothing(researcher):
    study = make_study(owner=researcher, platform=Study.Platform.MTURK)
    response = Client().get(f"/s/{study.slug}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H1"})
    assert response.status_code == 200 and b"accept the HIT" in response.content
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_mturk_participant_ends_with_the_external_submit_form(researcher):
    study = make_study(owner=researcher, platform=Study.Platform.MTURK)
    client = Client()
    params = {"assignmentId": "A1", "hitId": "H1", "workerId": "W1",
              "turkSubmitTo": "https://workersandbox.mturk.com"}
    participant, url = start(client, study, params)
    assert (participant.external_id, participant.assignment_id, participant.hit_id) == ("W1", "A1", "H1")
    client.post(url, {"action": "next"})
    post(client, page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    post(client, page_url(url, "satisfaction"), action="next", useful=5)
    response = client.get(post(client, page_url(url, "free_text"), action="next")["Location"])
    assert b'action="https://workersandbox.mturk.com/mturk/externalSubmit"' in response.content
    assert b'name="assignmentId" value="A1"' in response.content
    # The same worker returning gets the same record.
    assert Client().get(f"/s/{study.slug}/", params).status_code == 200
    assert Participant.objects.filter(study=study).count() == 1


@pytest.mark.django_db
def test_mturk_submit_host_must_be_an_mturk_host(researcher):
    study = make_study(owner=researcher, platform=Study.Platform.MTURK)
    params = {"assignmentId": "A1", "hitId": "H1", "workerId": "W1", "turkSubmitTo": "https://evil.example.com"}
    response = Client().get(f"/s/{study.slug}/", params)
    assert response.status_code == 400 and b"turkSubmitTo" in response.content
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_a_plain_link_participant_resumes_through_the_signed_cookie(researcher):
    study = make_study(owner=researcher, platform=Study.Platform.LINK)
    client = Client()
    first = client.get(f"/s/{study.slug}/")["Location"]
    assert client.get(f"/s/{study.slug}/")["Location"] == first
    assert Participant.objects.filter(study=study).count() == 1
    Client().get(f"/s/{study.slug}/")
    assert Participant.objects.filter(study=study).count() == 2


@pytest.mark.django_db
def test_the_progress_bar_advances(study):
    client = Client()
    participant, url = start(client, study)
    first = client.get(url).context["progress"]
    client.post(url, {"action": "next"})
    second = client.get(page_url(url, "stimulus")).context["progress"]
    assert 0 < first < second < 100


@pytest.mark.django_db
def test_minimum_stimulus_time_is_enforced_on_the_server(researcher):
    study = make_study(owner=researcher, min_stimulus_seconds=60)
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    client.get(page_url(url, "stimulus"))
    response = post(client, page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    assert response.status_code == 400 and b"at least 60 seconds" in response.content
    participant.refresh_from_db()
    # The participant stays on the page; the answers they gave are kept (they are not asked again).
    assert participant.current_page == "stimulus"
    assert {r.item.key: r.value_int for r in participant.responses.all()} == GOOD_STIMULUS_ANSWERS
