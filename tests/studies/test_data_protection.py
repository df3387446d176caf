"""Withdrawal at any point, deletion on request with an audit entry, versioned consent."""
from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from studies import services
from studies.models import AuditEntry, ConsentVersion, PageVisit, Participant, Response, ResponseRevision, Study

from .factories import GOOD_STIMULUS_ANSWERS, make_study
from .test_participant_views import enter, page_url, post


def start(client, study, params=None):
    """Enter with a Prolific id and consent; returns the participant and their instructions URL."""
    params = params or {"PROLIFIC_PID": "pid-001", "STUDY_ID": "st-1", "SESSION_ID": "se-1"}
    consent = enter(client, study, params)["Location"]
    url = client.post(consent, {"consent": "yes"})["Location"]
    return Participant.objects.get(study=study, external_id=params["PROLIFIC_PID"]), url


@pytest.mark.django_db
def test_every_participant_page_links_to_withdrawal_and_the_consent_says_so(study):
    client = Client()
    consent = client.get(enter(client, study)["Location"])
    assert b"You can withdraw at any time" in consent.content and b'id="withdraw"' in consent.content
    participant, url = start(Client(), study, {"PROLIFIC_PID": "p2"})
    client = Client()
    for page in ("instructions", "stimulus"):
        html = client.get(url if page == "instructions" else page_url(url, page)).content.decode()
        assert 'id="withdraw"' in html, page
        if page == "instructions":
            client.post(url, {"action": "next"})


@pytest.mark.django_db
def test_withdrawing_deletes_the_answers_and_keeps_only_the_fact(study):
    client = Client(enforce_csrf_checks=True)
    participant, url = start(Client(), study)
    other, _ = start(Client(), study, {"PROLIFIC_PID": "someone-else"})
    Client().post(url, {"action": "next"})
    post(Client(), page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    withdraw_url = url.replace("/instructions/", "/withdraw/")
    page = client.get(withdraw_url)
    assert page.status_code == 200 and b"everything you" in page.content
    forged = client.post(withdraw_url, {"withdraw": "yes"})
    assert forged.status_code == 403 and Participant.objects.get(pk=participant.pk).status == "active"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    done = client.post(withdraw_url, {"withdraw": "yes", "csrfmiddlewaretoken": token})
    assert done.status_code == 200 and b"You have withdrawn" in done.content
    participant.refresh_from_db()
    assert participant.status == Participant.Status.WITHDRAWN and participant.withdrawn_at
    assert participant.external_id == "" and participant.platform_session_id == ""
    assert not Response.objects.filter(participant=participant).exists()
    assert not PageVisit.objects.filter(participant=participant).exists()
    assert not ResponseRevision.objects.filter(response__participant=participant).exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PARTICIPANT_WITHDREW)
    assert entry.detail["responses"] == 3 and "pid-001" not in str(entry.detail)
    # The other participant is untouched; withdrawing again changes nothing.
    assert Participant.objects.get(pk=other.pk).status == "active"
    assert Client().post(withdraw_url, {"withdraw": "yes"}).status_code == 200
    assert AuditEntry.objects.filter(action=AuditEntry.Action.PARTICIPANT_WITHDREW).count() == 1


@pytest.mark.django_db
def test_a_data_protection_request_deletes_one_participant_and_logs_what_not_the_data(study, other_researcher):
    participant, url = start(Client(), study)
    Client().post(url, {"action": "next"})
    post(Client(), page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    keep, _ = start(Client(), study, {"PROLIFIC_PID": "keep-me"})
    api = APIClient()
    api.force_authenticate(study.owner)
    unknown = api.post(f"/api/studies/{study.slug}/participants/erase/", {"platform_id": "nobody"}, format="json")
    assert unknown.status_code == 400 and "platform_id" in unknown.json()
    api.force_authenticate(other_researcher)
    assert api.post(f"/api/studies/{study.slug}/participants/erase/", {"platform_id": "pid-001"},
                    format="json").status_code == 404
    api.force_authenticate(study.owner)
    response = api.post(f"/api/studies/{study.slug}/participants/erase/", {"platform_id": "pid-001"}, format="json")
    assert response.status_code == 200
    assert response.json()["detail"]["responses"] == 3 and response.json()["action"] == "participant_deleted"
    assert not Participant.objects.filter(pk=participant.pk).exists()
    assert not Response.objects.filter(participant_id=participant.pk).exists()
    assert Participant.objects.filter(pk=keep.pk).exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PARTICIPANT_DELETED)
    assert "pid-001" not in str(entry.detail) and entry.actor == study.owner and entry.created_at


@pytest.mark.django_db
def test_consent_is_versioned_and_a_launched_studys_consent_is_only_superseded(researcher):
    study = make_study(owner=researcher, status=Study.Status.DRAFT)
    study = services.study_launch(study=study)
    first, url = start(Client(), study)
    assert first.consent_version.number == 1 and first.consented_at
    with pytest.raises(Exception, match="Supersede"):
        services.study_update(study=study, data={"consent_text": "New words."})
    api = APIClient()
    api.force_authenticate(researcher)
    patched = api.patch(f"/api/studies/{study.slug}/", {"consent_text": "Sneaky edit."}, format="json")
    assert patched.status_code == 400 and "consent_text" in patched.json()
    response = api.post(f"/api/studies/{study.slug}/consent/", {"text": "Version two of the consent."}, format="json")
    assert response.status_code == 201 and response.json()["number"] == 2
    second, _ = start(Client(), study, {"PROLIFIC_PID": "later"})
    first.refresh_from_db()
    assert (first.consent_version.number, second.consent_version.number) == (1, 2)
    assert ConsentVersion.objects.get(study=study, number=1).text == "You may stop at any time."
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CONSENT_SUPERSEDED).count() == 1


@pytest.mark.django_db
def test_a_launched_study_refuses_new_items_conditions_rewording_and_a_new_slug(study):
    api = APIClient()
    api.force_authenticate(study.owner)
    late = api.post("/api/items/", {"study": study.slug, "key": "late", "text": "Late."}, format="json")
    assert late.status_code == 400 and "launched study" in str(late.json())
    assert api.post("/api/conditions/", {"study": study.slug, "name": "Late", "slug": "late"},
                    format="json").status_code == 400
    item = study.items.get(key="useful")
    assert api.patch(f"/api/items/{item.pk}/", {"text": "Something else entirely."}, format="json").status_code == 400
    assert api.delete(f"/api/items/{item.pk}/").status_code == 400
    condition = study.conditions.first()
    assert api.patch(f"/api/conditions/{condition.pk}/", {"name": "Renamed arm"}, format="json").status_code == 400
    assert api.patch(f"/api/studies/{study.slug}/", {"slug": "moved"}, format="json").status_code == 400
    fixed = api.patch(f"/api/items/{item.pk}/", {"text": "The explanation was usefull."}, format="json")
    assert fixed.status_code == 200
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WORDING_FIXED)
    assert entry.detail["before"] == "The explanation was useful." and entry.detail["after"].endswith("usefull.")


@pytest.mark.django_db
def test_the_admin_keeps_a_launched_studys_slug_and_refuses_new_items(study, client):
    from .test_admin import _change_form, researcher_client

    client = researcher_client(study.owner)
    data = _change_form(client, study)
    response = client.post(f"/admin/studies/study/{study.pk}/change/", {**data, "slug": "moved"})
    study.refresh_from_db()
    assert study.slug == "pattern-study"
    total = int(data["items-TOTAL_FORMS"])
    added = {**data, "items-TOTAL_FORMS": total + 1, f"items-{total}-key": "late", f"items-{total}-text": "Late.",
             f"items-{total}-kind": "likert", f"items-{total}-page": "stimulus", f"items-{total}-order": 9,
             f"items-{total}-scale_points": 7, f"items-{total}-required": "on"}
    response = client.post(f"/admin/studies/study/{study.pk}/change/", added)
    assert response.status_code == 200 and b"Cannot add an item to a launched study" in response.content
    assert not study.items.filter(key="late").exists()
