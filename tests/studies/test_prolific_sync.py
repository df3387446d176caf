"""Prolific kept in sync, tested against a local server that implements the part of Prolific's API the
platform uses (tests/studies/fake_prolific.py cites the documentation of each shape)."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from studies import selectors
from studies.models import AuditEntry, Participant, Study
from studies.prolific.client import ProlificClient, ProlificError
from studies.prolific.sync import prolific_sync_study

from .factories import make_study
from .fake_prolific import TOKEN, FakeProlific

REASON = ("Your submission answered the attention check incorrectly and finished in under a minute, so we cannot "
          "use it; sorry.")


@pytest.fixture
def fake(settings):
    with FakeProlific() as server:
        settings.PROLIFIC_API_TOKEN = TOKEN
        settings.PROLIFIC_API_BASE_URL = server.url
        yield server


def arrive(study, pid: str, *, status=Participant.Status.ACTIVE, condition=None) -> Participant:
    return Participant.objects.create(study=study, platform="prolific", external_id=pid, platform_study_id="PS1",
                                      platform_session_id=f"sub{pid}", status=status,
                                      condition=condition or study.conditions.first())


@pytest.mark.django_db
def test_returned_timed_out_and_rejected_submissions_reopen_their_places(researcher, fake):
    study = make_study(owner=researcher, target_per_condition=3, conditions=1)
    returned, timed_out = arrive(study, "p1"), arrive(study, "p2")
    rejected = arrive(study, "p3", status=Participant.Status.COMPLETED)
    fine = arrive(study, "p4", status=Participant.Status.COMPLETED)
    for pid, status in (("p1", "RETURNED"), ("p2", "TIMED-OUT"), ("p3", "REJECTED"), ("p4", "AWAITING REVIEW"),
                        ("stranger", "ACTIVE")):
        fake.add("PS1", f"sub{pid}", pid, status)
    assert selectors.study_is_full(study=study)
    report = prolific_sync_study(study=study)
    assert (report.submissions, report.matched, report.reopened, report.rejected, report.unknown_participants) == (
        5, 4, 2, 1, 1)
    statuses = {p.external_id: (p.status, p.platform_status) for p in Participant.objects.filter(study=study)}
    assert statuses == {"p1": ("returned", "RETURNED"), "p2": ("timed_out", "TIMED-OUT"),
                        "p3": ("rejected", "REJECTED"), "p4": ("completed", "AWAITING REVIEW")}
    assert not selectors.study_is_full(study=study)  # three places free again at once
    # The list was read page by page (two per page).
    assert len([r for r in fake.requests if "/submissions/" in r[1] and r[0] == "GET"]) == 3
    # A second run changes nothing more.
    assert prolific_sync_study(study=study).reopened == 0
    del returned, timed_out, rejected, fine


@pytest.mark.django_db
def test_rate_limits_are_waited_out_with_retry_after(researcher, fake):
    study = make_study(owner=researcher, conditions=1)
    arrive(study, "p1")
    fake.add("PS1", "subp1", "p1", "RETURNED")
    fake.rate_limited = 2
    waits: list[float] = []
    client = ProlificClient(token=TOKEN, base_url=fake.url, sleep=waits.append)
    assert prolific_sync_study(study=study, client=client).reopened == 1
    assert waits == [1.0, 1.0]
    fake.rate_limited = 10
    with pytest.raises(ProlificError, match="429|too many"):
        ProlificClient(token=TOKEN, base_url=fake.url, sleep=waits.append, max_retries=2).study_submissions("PS1")


@pytest.mark.django_db
def test_malformed_answers_and_errors_change_nothing(researcher, fake, settings):
    study = make_study(owner=researcher, conditions=1)
    participant = arrive(study, "p1")
    fake.add("PS1", "subp1", "p1", "RETURNED")
    fake.malformed = True
    with pytest.raises(ProlificError, match="results"):
        prolific_sync_study(study=study)
    fake.malformed = False
    fake.submissions["PS1"][0]["status"] = "SOMETHING ELSE"
    with pytest.raises(ProlificError, match="Unknown submission status"):
        prolific_sync_study(study=study)
    settings.PROLIFIC_API_TOKEN = "wrong"
    with pytest.raises(ProlificError, match="401.*Invalid token"):
        prolific_sync_study(study=study)
    participant.refresh_from_db()
    assert (participant.status, participant.platform_status) == ("active", "")
    with pytest.raises(CommandError):
        call_command("prolific_sync", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.django_db
def test_the_command_syncs_live_prolific_studies(researcher, fake):
    study = make_study(owner=researcher, conditions=1)
    arrive(study, "p1")
    fake.add("PS1", "subp1", "p1", "TIMED-OUT")
    out = io.StringIO()
    call_command("prolific_sync", stdout=out)
    assert "1 places reopened" in out.getvalue()
    assert Participant.objects.get().status == Participant.Status.TIMED_OUT


@pytest.mark.django_db
def test_bulk_approve_reject_and_bonus_from_the_api(researcher, other_researcher, fake):
    study = make_study(owner=researcher, conditions=1)
    people = [arrive(study, f"p{i}", status=Participant.Status.COMPLETED) for i in range(4)]
    for person in people:
        fake.add("PS1", person.platform_session_id, person.external_id, "AWAITING REVIEW")
    api = APIClient()
    api.force_authenticate(researcher)
    base = f"/api/studies/{study.slug}/prolific"
    response = api.post(f"{base}/approve/", {"participants": [people[0].pk, people[1].pk]}, format="json")
    assert response.status_code == 200 and response.json() == {"approved": 2}
    assert fake.posted("bulk-approve") == [{"submission_ids": ["subp0", "subp1"]}]
    short = api.post(f"{base}/reject/", {"participants": [people[2].pk], "message": "bad",
                                          "rejection_category": "FAILED_CHECK"}, format="json")
    assert short.status_code == 400 and "message" in short.json() and not fake.posted("transition")
    response = api.post(f"{base}/reject/", {"participants": [people[2].pk], "message": REASON,
                                             "rejection_category": "FAILED_CHECK"}, format="json")
    assert response.status_code == 200 and fake.find("subp2")["status"] == "REJECTED"
    people[2].refresh_from_db()
    assert people[2].status == Participant.Status.REJECTED
    response = api.post(f"{base}/bonus/", {"bonuses": [{"participant": people[0].pk, "amount": "1.50"},
                                                       {"participant": people[1].pk, "amount": "0.25"}]},
                        format="json")
    assert response.status_code == 200 and fake.paid == [response.json()["payment"]]
    assert fake.posted("submissions/bonus-payments") == [{"study_id": "PS1", "csv_bonuses": "p0,1.50\np1,0.25"}]
    actions = [e.detail["action"] for e in AuditEntry.objects.filter(action=AuditEntry.Action.PLATFORM_ACTION)]
    assert actions == ["approve", "reject", "bonus"]
    # Prolific refusing (an id that did not take part) is a clear 502 naming Prolific's reason.
    stranger = arrive(study, "p9", status=Participant.Status.COMPLETED)
    refused = api.post(f"{base}/bonus/", {"bonuses": [{"participant": stranger.pk, "amount": "1.00"}]},
                       format="json")
    assert refused.status_code == 502 and "Invalid participant ids" in refused.json()["prolific"][0]
    # Another researcher cannot act on the study.
    api.force_authenticate(other_researcher)
    assert api.post(f"{base}/approve/", {"participants": [people[3].pk]}, format="json").status_code == 404


@pytest.mark.django_db
def test_the_dashboard_shows_prolific_status_beside_the_platforms(researcher, fake, client):
    study = make_study(owner=researcher, conditions=1)
    arrive(study, "p1")
    fake.add("PS1", "subp1", "p1", "RETURNED")
    prolific_sync_study(study=study)
    client.force_login(researcher)
    html = client.get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert 'id="prolific-status"' in html
    assert "RETURNED" in html and "Returned" in html
