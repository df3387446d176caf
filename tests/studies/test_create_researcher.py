"""`manage.py create_researcher`: a working study-owner account with its token, and nothing more."""
from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from studies.models import Study
from studies.researchers import RESEARCHER_GROUP, researcher_permission_codenames

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-and-unusual-passphrase-7"


def _create(username: str, *extra: str) -> str:
    out = io.StringIO()
    call_command("create_researcher", username, "--no-input", *extra, stdout=out)
    return out.getvalue()


def _token(output: str) -> str:
    return re.search(r"API token: (\w+)", output).group(1)


def _admin_login(username: str, password: str) -> Client:
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    assert response.status_code == 302 and response["Location"] == "/admin/", "the admin login failed"
    return client


def test_a_researcher_signs_in_creates_a_study_and_uses_the_api_with_the_printed_token():
    output = _create("ada", "--email", "ada@example.org", "--password", PASSWORD)
    user = get_user_model().objects.get(username="ada")
    assert user.is_staff and not user.is_superuser and user.email == "ada@example.org"
    assert "Password:" not in output  # a chosen password is never echoed

    client = _admin_login("ada", PASSWORD)
    assert b"Studies" in client.get("/admin/").content
    response = client.post("/admin/studies/study/add/", {
        "title": "Ada's study", "slug": "adas-study", "design": "between_group", "platform": "prolific", "min_stimulus_seconds": 0,
        "conditions-TOTAL_FORMS": 0, "conditions-INITIAL_FORMS": 0,
        "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.content[:2000]
    assert Study.objects.get(slug="adas-study").owner == user

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {_token(output)}")
    listed = api.get("/api/studies/").json()
    assert [study["slug"] for study in listed["results"]] == ["adas-study"]
    assert api.patch("/api/studies/adas-study/", {"title": "Renamed"}, format="json").status_code == 200


def test_researchers_cannot_see_each_others_studies():
    ada_token = _token(_create("ada", "--password", PASSWORD))
    bob_output = _create("bob", "--password", PASSWORD)
    ada = get_user_model().objects.get(username="ada")
    study = Study.objects.create(owner=ada, slug="adas-study", title="Ada's study")

    bob = _admin_login("bob", PASSWORD)
    assert b"adas-study" not in bob.get("/admin/studies/study/").content
    assert bob.get(f"/admin/studies/study/{study.pk}/change/").status_code == 302  # "does not exist"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {_token(bob_output)}")
    assert api.get("/api/studies/").json()["results"] == []
    assert api.get("/api/studies/adas-study/").status_code == 404
    api.credentials(HTTP_AUTHORIZATION=f"Token {ada_token}")
    assert api.get("/api/studies/adas-study/").status_code == 200


def test_the_group_holds_exactly_the_derived_permissions_and_is_updated_idempotently():
    _create("ada", "--password", PASSWORD)
    group = Group.objects.get(name=RESEARCHER_GROUP)
    group.permissions.clear()  # drift, e.g. a hand edit in the admin
    _create("bob", "--password", PASSWORD)
    assert Group.objects.filter(name=RESEARCHER_GROUP).count() == 1
    granted = set(group.permissions.values_list("content_type__app_label", "codename"))
    wanted = researcher_permission_codenames()
    assert granted == {(model._meta.app_label, f"{action}_{model._meta.model_name}")
                       for model, actions in wanted.items() for action in actions}
    codenames = {codename for _, codename in granted}
    # What a study owner does ...
    assert {"add_study", "change_study", "add_item", "change_condition", "add_stimulusgrid",
            "add_hypothesis", "view_participant", "view_response", "view_studyexport", "add_dataset",
            "add_registeredmodel", "add_stimulusset"} <= codenames
    # ... and what the admin never lets them do, or what would reach other researchers.
    assert not codenames & {"add_participant", "delete_participant", "change_response", "delete_response",
                            "add_gridcell", "add_analysis",
                            "change_analysis", "add_user", "change_group"}
    assert all(app in {"studies", "explainers", "stats"} for app, _ in granted)


def test_without_a_password_one_is_generated_and_printed_once():
    output = _create("ada")
    password = re.search(r"Password: (\S+)", output).group(1)
    assert len(password) >= 20
    _admin_login("ada", password)


@pytest.mark.parametrize("args, message", [
    (["--password", "short"], "too short"),
    (["--email", "not-an-email", "--password", PASSWORD], "email"),
])
def test_bad_input_is_refused_and_creates_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        _create("ada", *args)
    assert not get_user_model().objects.filter(username="ada").exists()


def test_an_existing_username_is_refused_and_left_unchanged():
    _create("ada", "--password", PASSWORD)
    with pytest.raises(CommandError, match="already exists"):
        _create("ada", "--password", "another-long-passphrase-9")
    _admin_login("ada", PASSWORD)
