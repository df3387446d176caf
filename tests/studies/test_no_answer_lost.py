"""No answer lost, no participant blamed: early submits, double clicks on Finish, Back-button submissions."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from studies import selectors
from studies.models import PageVisit, Participant, Response, ResponseRevision

from .factories import GOOD_STIMULUS_ANSWERS, make_study
from .test_participant_views import page_url, post, start


def to_free_text(client, url):
    client.post(url, {"action": "next"})
    post(client, page_url(url, "stimulus"), action="next", **GOOD_STIMULUS_ANSWERS)
    post(client, page_url(url, "satisfaction"), action="next", useful=5)
    return page_url(url, "free_text")


@pytest.mark.django_db
def test_an_early_stimulus_submit_keeps_the_answers_and_says_how_long_is_left(researcher):
    study = make_study(owner=researcher, min_stimulus_seconds=60)
    client = Client()
    participant, url = start(client, study)
    client.post(url, {"action": "next"})
    client.get(page_url(url, "stimulus"))
    # 45 of the 60 seconds have passed.
    PageVisit.objects.filter(participant=participant, page="stimulus").update(
        entered_at=PageVisit.objects.get(participant=participant, page="stimulus").entered_at - timedelta(seconds=45))
    response = post(client, page_url(url, "stimulus"), action="next", arms=6, colour=3)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your answers are saved" in html and "s left" in html
    assert "Nothing was saved" not in html
    left = response.context["min_seconds_left"]
    assert 1 <= left <= 15 and f"{left} s left" in html
    # The countdown restarts from what is left, and the given answers are shown checked again.
    assert f'data-min-seconds="{left}"' in html
    assert {r.item.key: r.value_int for r in Response.objects.filter(participant=participant)} == {
        "arms": 6, "colour": 3}
    participant.refresh_from_db()
    assert participant.current_page == "stimulus"
    # Once the time is up the rest is asked for and the participant goes on.
    PageVisit.objects.filter(participant=participant, page="stimulus").update(
        entered_at=PageVisit.objects.get(participant=participant, page="stimulus").entered_at - timedelta(seconds=60))
    response = post(client, page_url(url, "stimulus"), action="next", attn=2)
    assert response.status_code == 302 and response["Location"].endswith("/satisfaction/")


@pytest.mark.django_db
def test_a_second_finish_post_after_the_first_ends_at_the_completion_redirect(study):
    client = Client()
    participant, url = start(client, study)
    free_text = to_free_text(client, url)
    first = post(client, free_text, action="next", comments="done")
    second = post(client, free_text, action="next", comments="done")
    assert first.status_code == 302 and first["Location"].endswith("/complete/")
    assert second.status_code == 302 and second["Location"] == first["Location"]
    assert b"DONE123" in client.get(second["Location"]).content
    assert ResponseRevision.objects.filter(response__item__key="comments").count() == 1


@pytest.mark.django_db
def test_a_finish_post_that_loses_the_race_inside_the_transaction_ends_at_the_completion_redirect(study, monkeypatch):
    """The second POST read the participant as active before the first one committed (the interleaving the
    PostgreSQL test provokes with threads); it must still end at the completion redirect."""
    client = Client()
    participant, url = start(client, study)
    free_text = to_free_text(client, url)
    stale = selectors.participant_by_token(study_slug=study.slug, token=participant.token)
    assert post(client, free_text, action="next", comments="done").status_code == 302
    monkeypatch.setattr(selectors, "participant_by_token", lambda **kwargs: stale)
    second = post(client, free_text, action="next", comments="done")
    assert second.status_code == 302 and second["Location"].endswith("/complete/")
    # A different submission after the end is still refused and changes nothing.
    stale.refresh_from_db()
    stale.status = Participant.Status.ACTIVE
    changed = post(client, free_text, action="next", comments="something else")
    assert changed.status_code == 409
    assert Response.objects.get(item__key="comments").value_text == "done"


@pytest.mark.django_db
def test_a_back_button_submission_of_an_earlier_page_is_saved_with_its_revision(study):
    client = Client()
    participant, url = start(client, study)
    free_text = to_free_text(client, url)
    # The browser's Back button shows the cached stimulus page; the participant changes an answer and submits.
    response = post(client, page_url(url, "stimulus"), action="next", **{**GOOD_STIMULUS_ANSWERS, "arms": 2})
    assert response.status_code == 302 and response["Location"] == free_text
    arms = Response.objects.get(participant=participant, item__key="arms")
    assert arms.value_int == 2
    assert list(arms.revisions.values_list("value_int", "page")) == [(6, "stimulus"), (2, "stimulus")]
    participant.refresh_from_db()
    assert participant.current_page == "free_text"
    # Invalid answers on the earlier page are shown there, nothing stored.
    bad = post(client, page_url(url, "stimulus"), action="next", arms=99)
    assert bad.status_code == 400 and Response.objects.get(pk=arms.pk).value_int == 2
    # Autosave of an earlier page saves too; a page not reached yet does not.
    saved = client.post(page_url(url, "satisfaction") + "save/", {"answers": {"useful": 3}},
                        content_type="application/json")
    assert saved.status_code == 200
    assert Response.objects.get(participant=participant, item__key="useful").revisions.count() == 2


@pytest.mark.django_db
def test_a_page_not_reached_yet_is_not_saved(study):
    client = Client()
    participant, url = start(client, study)
    response = post(client, page_url(url, "satisfaction"), action="next", useful=4)
    assert response.status_code == 302 and response["Location"] == url
    assert not Response.objects.exists()
