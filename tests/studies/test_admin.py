"""Admin: researchers see only their own studies, owners are set on save, data-corrupting edits are refused."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from studies.models import Item, Study

from .factories import make_study, make_user
from .test_api import finish_participant


def researcher_client(user) -> Client:
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="studies"))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_researchers_see_only_their_own_studies_and_participants(study, other_researcher):
    mine = make_study(owner=other_researcher, slug="mallorys-study")
    finish_participant(study, "alice-participant")
    client = researcher_client(other_researcher)
    listing = client.get("/admin/studies/study/")
    assert listing.status_code == 200
    assert b"mallorys-study" in listing.content and b"pattern-study" not in listing.content
    assert client.get(f"/admin/studies/study/{study.pk}/change/").status_code == 302  # not found -> redirect
    participants = client.get("/admin/studies/participant/")
    assert b"alice-participant" not in participants.content and b"0 participants" in participants.content
    assert client.get(f"/admin/studies/study/{mine.pk}/change/").status_code == 200


@pytest.mark.django_db
def test_the_owner_is_set_on_creation(researcher):
    client = researcher_client(researcher)
    response = client.post("/admin/studies/study/add/", {
        "title": "Admin study", "slug": "admin-study", "design": "between_group", "platform": "prolific", "min_stimulus_seconds": 0,
        "conditions-TOTAL_FORMS": 0, "conditions-INITIAL_FORMS": 0,
        "items-TOTAL_FORMS": 0, "items-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.content[:2000]
    assert Study.objects.get(slug="admin-study").owner == researcher


def _change_form(client, study):
    """The study's change form data as the browser would post it back."""
    response = client.get(f"/admin/studies/study/{study.pk}/change/")
    form = response.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    for formset in response.context["inline_admin_formsets"]:
        fs = formset.formset
        data.update({f"{fs.prefix}-TOTAL_FORMS": len(fs.forms), f"{fs.prefix}-INITIAL_FORMS": fs.initial_form_count()})
        for sub in fs.forms:
            for name, field in sub.fields.items():
                value = sub.initial.get(name, field.initial)
                if name == "id":
                    value = sub.instance.pk
                if value is not None and value is not False and name != "stimulus_image":
                    data[sub.add_prefix(name)] = value
            data[sub.add_prefix(fs.fk.name)] = study.pk
    return data


@pytest.mark.django_db
def test_admin_refuses_changes_that_would_corrupt_collected_data(study):
    finish_participant(study, "p1")
    client = researcher_client(study.owner)
    data = _change_form(client, study)
    index = next(i for i in range(10) if data.get(f"items-{i}-key") == "arms")
    changed = {**data, f"items-{index}-scale_points": 5}
    response = client.post(f"/admin/studies/study/{study.pk}/change/", changed)
    assert response.status_code == 200 and b"Cannot change" in response.content
    deleted = {**data, f"items-{index}-DELETE": "on"}
    response = client.post(f"/admin/studies/study/{study.pk}/change/", deleted)
    assert response.status_code == 200
    assert b"already has responses" in response.content or b"protected related objects" in response.content
    arms = Item.objects.get(study=study, key="arms")
    assert arms.scale_points == 7
    # A harmless change still saves.
    response = client.post(f"/admin/studies/study/{study.pk}/change/", {**data, "title": "Renamed"})
    assert response.status_code == 302
    assert Study.objects.get(pk=study.pk).title == "Renamed"


@pytest.mark.django_db
def test_participant_admin_shows_simulated_flag_and_read_only_responses(study):
    finish_participant(study, "p1", simulated=True)
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/studies/participant/")
    assert b"is_simulated" in listing.content or b"Is simulated" in listing.content
    participant = study.participants.get()
    detail = client.get(f"/admin/studies/participant/{participant.pk}/change/")
    assert detail.status_code == 200 and b"fine" in detail.content
