"""The owner previews every condition of a draft or live study as a participant, and nothing is stored."""
from __future__ import annotations

import pytest
from django.test import Client

from studies.models import Participant, Response, Study

from .factories import make_study

pytestmark = pytest.mark.django_db


def _preview(slug: str, condition: str, page: str = "consent") -> str:
    return f"/studies/{slug}/preview/{condition}/{page}/"


def _walk(client: Client, study: Study, condition: str) -> list[str]:
    """Every page of one condition, answering as a participant would; returns the pages' headings."""
    url = _preview(study.slug, condition)
    seen = []
    response = client.get(url)
    assert response.status_code == 200 and b'id="preview-banner"' in response.content
    response = client.post(url, {"consent": "yes"})
    for page, answers in (("instructions", {}), ("stimulus", {"item-arms": 6, "item-colour": 3, "item-attn": 2}),
                          ("satisfaction", {"item-useful": 5}), ("free_text", {})):
        assert response.status_code == 302 and response["Location"] == _preview(study.slug, condition, page)
        page_response = client.get(response["Location"])
        assert page_response.status_code == 200
        seen.append(page_response.content.decode())
        response = client.post(response["Location"], {"action": "next", **answers})
    assert response["Location"] == _preview(study.slug, condition, "complete")
    complete = client.get(response["Location"]).content.decode()
    assert "DONE123" in complete and 'http-equiv="refresh"' not in complete  # the owner is not sent to Prolific
    return seen


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.LIVE])
def test_the_owner_previews_every_condition_and_nothing_is_stored(client, researcher, status):
    study = make_study(owner=researcher, status=status, slug=f"preview-{status}")
    client.force_login(researcher)
    for condition in study.conditions.all():
        pages = _walk(client, study, condition.slug)
        assert "Study the images" in pages[1] and condition.stimulus_image.url in pages[1]
    assert not Participant.objects.exists() and not Response.objects.exists()
    dashboard = client.get(f"/studies/{study.slug}/dashboard/").content.decode()
    for condition in study.conditions.all():
        assert _preview(study.slug, condition.slug) in dashboard


def test_a_preview_checks_answers_like_the_real_page_and_keeps_what_was_given(client, researcher, study):
    client.force_login(researcher)
    url = _preview(study.slug, "c0", "stimulus")
    response = client.post(url, {"action": "next", "item-arms": 6, "item-colour": 9})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Please answer this question." in page  # the attention check was left out
    assert 'value="6" data-item="arms" checked' in page
    assert 'data-save-url=""' in page  # the autosave is off: a preview stores nothing
    assert not Participant.objects.exists()


def test_another_researchers_preview_link_is_refused_and_changes_nothing(client, other_researcher, study):
    client.force_login(other_researcher)
    for method in (client.get, client.post):
        response = method(_preview(study.slug, "c0"), {"consent": "yes"} if method == client.post else None)
        assert response.status_code == 404
    client.logout()
    anonymous = client.get(_preview(study.slug, "c0"))
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    assert not Participant.objects.exists()


def test_an_unknown_condition_or_page_is_a_404(client, researcher, study):
    client.force_login(researcher)
    assert client.get(_preview(study.slug, "nope")).status_code == 404
    assert client.get(_preview(study.slug, "c0", "nope")).status_code == 404
