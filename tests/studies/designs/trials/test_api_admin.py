"""Researcher API and admin of trials studies: owner-scoped, configuration through the services, lists read-only."""
from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from studies.designs.trials.models import PoolImage, TrialMethod
from studies.models import Study
from studies.services import PlatformIdentity, participant_consent, participant_enter

from ...factories import make_study, png_upload
from .factories import make_trials_study


@pytest.fixture
def api(researcher):
    client = APIClient()
    client.force_authenticate(researcher)
    return client


@pytest.mark.django_db
def test_a_trials_study_is_configured_through_the_api(api, researcher):
    study = make_study(owner=researcher, status=Study.Status.DRAFT, conditions=0, with_items=False,
                       design=Study.Design.WITHIN_SUBJECT)
    setup = api.post("/api/trial-setups/", {"study": study.slug, "trials_per_participant": 6,
                                            "min_instructions_seconds": 10}, format="json")
    assert setup.status_code == 201, setup.content
    methods = [api.post("/api/trial-methods/", {"study": study.slug, "key": key, "name": key, "description": f"{key}."},
                        format="json").json()["id"] for key in ("a", "b", "c")]
    for index in range(6):
        image = api.post("/api/trial-pool-images/", {"study": study.slug, "key": f"i{index}", "prediction": "Sticky",
                                                     "image": png_upload(f"i{index}.png")}, format="multipart")
        assert image.status_code == 201, image.content
        for method in methods:
            made = api.post("/api/trial-explanations/", {"method": method, "pool_image": image.json()["id"],
                                                         "image": png_upload(f"e{index}.png")}, format="multipart")
            assert made.status_code == 201, made.content
    launched = api.post(f"/api/studies/{study.slug}/launch/")
    assert launched.status_code == 200, launched.content


@pytest.mark.django_db
def test_bad_configuration_is_refused_with_a_message(api, researcher):
    study = make_trials_study(owner=researcher, launch=False)
    setup = study.trial_setup
    response = api.patch(f"/api/trial-setups/{setup.pk}/", {"second_labels": ["x"]}, format="json")
    assert response.status_code == 400 and "second_labels" in response.json()
    response = api.post("/api/trial-methods/", {"study": study.slug, "key": "gradcam", "name": "dup",
                                                "description": "x"}, format="json")
    assert response.status_code == 400
    assert TrialMethod.objects.filter(study=study).count() == 3


@pytest.mark.django_db
def test_changes_after_allocation_are_refused(api, researcher):
    study = make_trials_study(owner=researcher)
    participant = participant_enter(study=study, identity=PlatformIdentity(platform="prolific", external_id="P"))
    participant_consent(participant=participant, agreed=True)
    response = api.post("/api/trial-pool-images/", {"study": study.slug, "key": "late", "prediction": "Sticky",
                                                    "image": png_upload()}, format="multipart")
    assert response.status_code == 400 and "Duplicate the study" in str(response.json())
    assert not PoolImage.objects.filter(key="late").exists()
    trials = api.get("/api/trials/", {"study": study.slug}).json()
    rows = trials["results"] if isinstance(trials, dict) else trials
    assert len(rows) == 24 and rows[0]["position"] == 1


@pytest.mark.django_db
def test_other_researchers_see_nothing(researcher, other_researcher):
    study = make_trials_study(owner=researcher)
    client = APIClient()
    client.force_authenticate(other_researcher)
    assert client.get(f"/api/trial-setups/{study.trial_setup.pk}/").status_code == 404
    listed = client.get("/api/trial-methods/").json()
    assert (listed["results"] if isinstance(listed, dict) else listed) == []
    admin = Client()
    admin.force_login(other_researcher)
    page = admin.get("/admin/trials/trialmethod/")
    assert page.status_code in (200, 403)
    assert b"gradcam" not in page.content


@pytest.mark.django_db
def test_the_owner_sees_the_admin_pages(researcher):
    from django.contrib.auth.models import Permission

    researcher.user_permissions.add(*Permission.objects.filter(content_type__app_label="trials"))
    study = make_trials_study(owner=researcher)
    client = Client()
    client.force_login(researcher)
    for model in ("trialsetup", "trialmethod", "poolimage", "trial"):
        assert client.get(f"/admin/trials/{model}/").status_code == 200, model
    method = study.trial_methods.first()
    assert client.get(f"/admin/trials/trialmethod/{method.pk}/change/").status_code == 200
