"""Researcher API: ownership, lifecycle actions, locked fields of studies with data, exports."""
from __future__ import annotations

import csv
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from studies import services
from studies.models import Condition, Item, Participant, Study

from .factories import GOOD_STIMULUS_ANSWERS, make_study, make_user


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def finish_participant(study: Study, external_id: str, *, simulated=False, **stimulus) -> Participant:
    participant = services.participant_enter(
        study=study, identity=services.PlatformIdentity(platform=study.platform, external_id=external_id),
        is_simulated=simulated,
    )
    participant = services.participant_consent(participant=participant, agreed=True)
    participant = services.participant_navigate(participant=participant, page="instructions", answers={},
                                                direction="next")
    for page, answers in (("stimulus", {**GOOD_STIMULUS_ANSWERS, **stimulus}), ("satisfaction", {"useful": 5}),
                          ("free_text", {"comments": "fine"})):
        participant = services.participant_navigate(participant=participant, page=page, answers=answers,
                                                    direction="next")
    return participant


@pytest.mark.django_db
def test_token_authentication_lists_only_own_studies(study, other_researcher):
    make_study(owner=other_researcher, slug="not-yours")
    token = Token.objects.create(user=study.owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/studies/")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()["results"]] == ["pattern-study"]


@pytest.mark.django_db
def test_anonymous_and_non_staff_users_are_refused(study):
    assert APIClient().get("/api/studies/").status_code in (401, 403)
    assert api_for(make_user("participant-ish")).get("/api/studies/").status_code == 403


@pytest.mark.django_db
def test_another_researcher_cannot_see_or_change_a_study(study, other_researcher):
    client = api_for(other_researcher)
    slug = study.slug
    condition = study.conditions.first()
    item = study.items.first()
    assert client.get(f"/api/studies/{slug}/").status_code == 404
    assert client.patch(f"/api/studies/{slug}/", {"title": "mine"}, format="json").status_code == 404
    assert client.post(f"/api/studies/{slug}/close/").status_code == 404
    assert client.get(f"/api/studies/{slug}/participants/").status_code == 404
    assert client.get(f"/api/studies/{slug}/responses/csv/").status_code == 404
    assert client.get(f"/api/conditions/{condition.pk}/").status_code == 404
    assert client.delete(f"/api/items/{item.pk}/").status_code == 404
    assert client.get("/api/items/", {"study": slug}).json()["results"] == []
    response = client.post("/api/items/", {"study": slug, "key": "sneaky", "text": "x"}, format="json")
    assert response.status_code == 400 and "study" in response.json()
    study.refresh_from_db()
    assert study.title != "mine" and study.status == Study.Status.LIVE
    assert Item.objects.filter(study=study).count() == 5


@pytest.mark.django_db
def test_a_researcher_creates_and_launches_a_study(researcher):
    client = api_for(researcher)
    response = client.post("/api/studies/", {"slug": "new-one", "title": "New", "completion_code": "C1"},
                           format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["owner"] == "alice" and response.json()["status"] == "draft"
    launch = client.post("/api/studies/new-one/launch/")
    assert launch.status_code == 400 and "conditions" in launch.json()
    response = client.post("/api/conditions/", {"study": "new-one", "name": "Baseline", "slug": "baseline"},
                           format="json")
    assert response.status_code == 201
    response = client.post("/api/items/", {"study": "new-one", "key": "arms", "text": "Arms matter.",
                                           "page": "stimulus"}, format="json")
    assert response.status_code == 201
    launch = client.post("/api/studies/new-one/launch/")
    assert launch.status_code == 400 and "no stimulus" in " ".join(launch.json()["conditions"])
    from .factories import png_upload
    response = client.patch(f"/api/conditions/{Condition.objects.get(slug='baseline').pk}/",
                            {"stimulus_image": png_upload()}, format="multipart")
    assert response.status_code == 200, response.json()
    launch = client.post("/api/studies/new-one/launch/")
    assert launch.status_code == 200 and launch.json()["status"] == "live" and launch.json()["launched_at"]
    assert client.post("/api/studies/new-one/pause/").json()["status"] == "paused"
    assert client.post("/api/studies/new-one/pause/").status_code == 400
    assert client.post("/api/studies/new-one/close/").json()["status"] == "closed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,field",
    [
        ({"kind": "attention_check"}, "expected_answer"),
        ({"scale_points": 6}, "scale_points"),
        ({"scale_points": 5, "labels": ["a", "b"]}, "labels"),
        ({"kind": "likert", "expected_answer": 3}, "expected_answer"),
        ({"kind": "attention_check", "expected_answer": 9}, "expected_answer"),
        ({"page": "nowhere"}, "page"),
    ],
)
def test_invalid_items_are_refused_naming_the_field(study, payload, field):
    before = Item.objects.count()
    response = api_for(study.owner).post("/api/items/", {"study": study.slug, "key": "new", "text": "t", **payload},
                                         format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert Item.objects.count() == before


@pytest.mark.django_db
def test_a_study_with_responses_refuses_changes_that_would_corrupt_data(study):
    finish_participant(study, "p1")
    client = api_for(study.owner)
    arms = study.items.get(key="arms")
    for change, field in (({"kind": "free_text"}, "kind"), ({"scale_points": 5}, "scale_points"),
                          ({"reverse_coded": True}, "reverse_coded")):
        response = client.patch(f"/api/items/{arms.pk}/", change, format="json")
        assert response.status_code == 400 and field in response.json(), response.json()
    attn = study.items.get(key="attn")
    response = client.patch(f"/api/items/{attn.pk}/", {"expected_answer": 3}, format="json")
    assert response.status_code == 400 and "expected_answer" in response.json()
    response = client.delete(f"/api/items/{arms.pk}/")
    assert response.status_code == 400 and "item" in response.json()
    used = Participant.objects.get(external_id="p1").condition
    assert client.delete(f"/api/conditions/{used.pk}/").status_code == 400
    assert client.delete(f"/api/studies/{study.slug}/").status_code == 400
    # A typo can still be fixed (logged); rewording what participants read is refused (the study is live).
    assert client.patch(f"/api/items/{arms.pk}/", {"text": "The arm position matters."}, format="json").status_code == 400
    assert client.patch(f"/api/items/{arms.pk}/", {"text": "The arms matter!"}, format="json").status_code == 200
    arms.refresh_from_db()
    assert (arms.kind, arms.scale_points, arms.reverse_coded) == ("likert", 7, False)
    assert Condition.objects.filter(pk=used.pk).exists() and Study.objects.filter(pk=study.pk).exists()


@pytest.mark.django_db
def test_launch_is_refused_while_a_linked_grid_is_not_ready(study):
    from explainers.models import Checkpoint, StimulusGrid

    checkpoint = Checkpoint.objects.create(name="ck", file="x.pt", sha256="0" * 64)
    grid = StimulusGrid.objects.create(name="g", checkpoint=checkpoint, method="saliency", owner=study.owner)
    study.status = Study.Status.DRAFT
    study.save()
    condition = study.conditions.first()
    condition.stimulus_grid = grid
    condition.save()
    response = api_for(study.owner).post(f"/api/studies/{study.slug}/launch/")
    assert response.status_code == 400 and "not ready" in " ".join(response.json()["conditions"])
    grid.status = StimulusGrid.Status.READY
    grid.save()
    assert api_for(study.owner).post(f"/api/studies/{study.slug}/launch/").status_code == 200


@pytest.mark.django_db
def test_participants_show_status_and_platform_ids_only_to_the_owner(study):
    finish_participant(study, "pid-owner-only")
    owner_view = api_for(study.owner).get(f"/api/studies/{study.slug}/participants/").json()["results"]
    assert owner_view[0]["external_id"] == "pid-owner-only" and owner_view[0]["status"] == "completed"
    admin = make_user("root", is_staff=True, is_superuser=True)
    admin_view = api_for(admin).get(f"/api/studies/{study.slug}/participants/").json()["results"]
    assert admin_view[0]["status"] == "completed" and admin_view[0]["external_id"] is None


@pytest.mark.django_db
def test_responses_export_as_json_and_csv_without_simulated_participants(study):
    finish_participant(study, "real")
    finish_participant(study, "bot", simulated=True)
    client = api_for(study.owner)
    rows = client.get(f"/api/studies/{study.slug}/responses/").json()
    assert len(rows) == 5 and {r["is_simulated"] for r in rows} == {False}
    assert {r["item"]: r["value"] for r in rows}["arms"] == 6
    with_bots = client.get(f"/api/studies/{study.slug}/responses/", {"include_simulated": "true"}).json()
    assert len(with_bots) == 10
    response = client.get(f"/api/studies/{study.slug}/responses/csv/")
    assert response["Content-Type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(parsed) == 5 and "real" not in response.content.decode()
    assert {row["item"]: row["value"] for row in parsed}["comments"] == "fine"
