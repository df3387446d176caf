"""Only MTurk may frame the participant pages (ExternalQuestion HITs); every other page refuses framing."""
import pytest

from tests.studies.factories import make_study, make_user


@pytest.mark.django_db
def test_participant_pages_may_be_framed_by_mturk_only(client, settings):
    study = make_study(owner=make_user(), slug="framed")
    response = client.get(f"/s/{study.slug}/", {"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H"})
    assert "X-Frame-Options" not in response
    policy = response["Content-Security-Policy"]
    assert policy.startswith("frame-ancestors 'self'")
    for host in settings.MTURK_SUBMIT_HOSTS:
        assert f"https://{host}" in policy


@pytest.mark.django_db
def test_researcher_pages_cannot_be_framed(client):
    response = client.get("/admin/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in response
