"""The owner excludes a participant with a reason (dashboard, admin, API): answers kept, analyses leave them
out with the reason, exports flag them, their place reopens; without a reason nothing changes."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from stats.reports import analysis_html
from stats.services import analysis_compute
from stats.services.exports import responses_export
from studies import selectors, services
from studies.models import Participant, Study
from studies.researchers import researcher_group_sync

from .factories import make_study, make_user

pytestmark = pytest.mark.django_db


def _finished(study: Study, pid: str, condition: str, answers: dict) -> Participant:
    client = Client()
    consent = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": f"se-{pid}"})
    client.post(consent["Location"], {"consent": "yes"})
    participant = Participant.objects.get(external_id=pid)
    if participant.condition.slug != condition:
        participant.condition = study.conditions.get(slug=condition)
        participant.save(update_fields=["condition"])
    url = consent["Location"].rsplit("/", 2)[0]
    client.post(f"{url}/instructions/", {"action": "next"})
    client.post(f"{url}/stimulus/", {"action": "next", **{f"item-{k}": v for k, v in answers.items()}})
    client.post(f"{url}/satisfaction/", {"action": "next", "item-useful": 5})
    client.post(f"{url}/free_text/", {"action": "next"})
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    return participant


@pytest.fixture
def finished_study(researcher):
    study = make_study(owner=researcher, slug="finished", target_per_condition=3)
    people = [_finished(study, f"p{n}", f"c{n % 2}", {"arms": 2 + n % 5, "colour": 3, "attn": 2}) for n in range(6)]
    return study, people


def test_an_exclusion_from_the_dashboard_flows_into_analysis_exports_and_counts(client, researcher, finished_study):
    study, people = finished_study
    target = people[0]
    client.force_login(researcher)
    counts_before = selectors.condition_fill_counts(study=study)
    response = client.post(f"/studies/{study.slug}/dashboard/participants/{target.pk}/exclusion/",
                           {"reason": "The researcher's own test run"})
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.excluded_reason == "The researcher's own test run" and target.excluded_by == researcher
    assert target.responses.count() == 3 + 1  # the answers are kept
    # The place reopens for a replacement.
    assert selectors.condition_fill_counts(study=study)[target.condition_id] == counts_before[target.condition_id] - 1
    _, _, results = analysis_compute(study=study)
    exclusions = results["exclusions"]
    assert exclusions["counts"]["researcher"] == 1 and exclusions["included"] == 5
    listed = {row["researcher_reason"] for row in exclusions["participants"]}
    assert listed == {"The researcher's own test run"}
    wide = list(csv.DictReader(io.StringIO(responses_export(study=study, fmt="wide", identified=True).content)))
    assert {row["platform_participant_id"]: row["excluded_reason"] for row in wide}["p0"] == (
        "The researcher's own test run")
    dashboard = client.get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert "Excluded: The researcher&#x27;s own test run" in dashboard
    assert "The researcher&#x27;s own test run" in analysis_html(results)
    # Taken back, the participant counts again.
    client.post(f"/studies/{study.slug}/dashboard/participants/{target.pk}/exclusion/", {"include": "1"})
    assert analysis_compute(study=study)[2]["exclusions"]["included"] == 6


def test_an_exclusion_without_a_reason_is_refused_everywhere_and_changes_nothing(client, researcher,
                                                                                 finished_study):
    study, people = finished_study
    target = people[1]
    with pytest.raises(Exception, match="Give a reason"):
        services.participant_exclude(participant=target, reason="   ")
    client.force_login(researcher)
    response = client.post(f"/studies/{study.slug}/dashboard/participants/{target.pk}/exclusion/", {"reason": ""},
                           follow=True)
    assert "Give a reason for the exclusion" in response.content.decode()
    api = client.post(f"/api/studies/{study.slug}/participants/exclusion/", {"participant": target.pk},
                      content_type="application/json")
    assert api.status_code == 400 and "reason" in api.json()
    researcher.groups.add(researcher_group_sync())  # what create_researcher grants
    admin = client.post("/admin/studies/participant/", {"action": "exclude_from_analyses", "apply": "1",
                                                        "_selected_action": [target.pk], "reason": ""}, follow=True)
    assert "Nobody was excluded" in admin.content.decode()
    target.refresh_from_db()
    assert target.excluded_reason == "" and target.excluded_at is None


def test_the_admin_and_the_api_exclude_with_a_reason(client, researcher, finished_study):
    study, people = finished_study
    researcher.groups.add(researcher_group_sync())
    client.force_login(researcher)
    asked = client.post("/admin/studies/participant/", {"action": "exclude_from_analyses",
                                                        "_selected_action": [people[2].pk]})
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    client.post("/admin/studies/participant/", {"action": "exclude_from_analyses", "apply": "1",
                                                "_selected_action": [people[2].pk], "reason": "Bot-like answers"})
    api = client.post(f"/api/studies/{study.slug}/participants/exclusion/",
                      {"participant": people[3].pk, "reason": "Saw the study before"},
                      content_type="application/json")
    assert api.status_code == 200 and api.json()["excluded_reason"] == "Saw the study before"
    reasons = dict(Participant.objects.exclude(excluded_reason="").values_list("pk", "excluded_reason"))
    assert reasons == {people[2].pk: "Bot-like answers", people[3].pk: "Saw the study before"}


def test_only_the_owner_may_exclude_and_only_by_post_with_csrf(finished_study, researcher):
    study, people = finished_study
    url = f"/studies/{study.slug}/dashboard/participants/{people[0].pk}/exclusion/"
    stranger = Client()
    stranger.force_login(make_user("stranger", is_staff=True))
    assert stranger.post(url, {"reason": "mine now"}).status_code == 404
    owner = Client(enforce_csrf_checks=True)
    owner.force_login(researcher)
    assert owner.post(url, {"reason": "no token"}).status_code == 403
    assert owner.get(url).status_code == 405
    people[0].refresh_from_db()
    assert people[0].excluded_reason == ""


def test_test_participants_of_a_draft_are_deleted_but_a_launched_study_keeps_them(researcher):
    draft = make_study(owner=researcher, status=Study.Status.DRAFT, slug="draft-tests")
    Participant.objects.create(study=draft, platform=draft.platform, is_simulated=True)
    assert services.study_delete_test_participants(study=draft) == 1
    assert not draft.participants.exists()
    live = make_study(owner=researcher, slug="live-tests")
    Participant.objects.create(study=live, platform=live.platform, is_simulated=True)
    with pytest.raises(Exception, match="only be deleted before launch"):
        services.study_delete_test_participants(study=live)
    assert live.participants.count() == 1
