"""The participant's way through an annotation study over HTTP, and bad votes that store nothing."""
import re

import pytest

from studies.designs.annotation.models import AnnotationAllocation, AnnotationVote
from studies.models import Participant, Study

from .factories import make_annotation_study

pytestmark = pytest.mark.django_db


def start(client, study, pid="W1"):
    response = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": pid, "STUDY_ID": "s", "SESSION_ID": "x"})
    consent_url = response["Location"]
    response = client.post(consent_url, {"consent": "yes"})
    instructions_url = response["Location"]
    assert instructions_url.endswith("/instructions/")
    response = client.post(instructions_url, {"action": "next"})
    assert response.status_code == 302 and response["Location"].endswith("/annotate/")
    return response["Location"], Participant.objects.get(external_id=pid)


def shown_position(html: str) -> str:
    return re.search(r'name="position" value="(\d+)"', html).group(1)


def test_one_participant_annotates_every_item_and_is_sent_to_prolific(client):
    study = make_annotation_study(items=3, k=1, per_participant=3, attention=True)
    annotate_url, participant = start(client, study)
    for number in range(1, 5):
        page = client.get(annotate_url)
        assert page.status_code == 200
        html = page.content.decode()
        assert f"Item {number} of 4" in html
        allocation = participant.annotation_allocations.get(position=int(shown_position(html)))
        choice = allocation.item.ground_truth
        if allocation.item.task.is_two_alternative:
            assert html.count('class="annotation-image-choice"') == 2
        response = client.post(annotate_url, {"position": allocation.position, "choice": choice})
        assert response.status_code == 302
    assert response["Location"].endswith("/complete/")
    final = client.get(response["Location"])
    assert final.status_code == 200 and "cc=DONE" in final.content.decode()  # shown, then sent on
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert AnnotationVote.objects.filter(participant=participant).count() == 4
    assert all(vote.placement for vote in AnnotationVote.objects.filter(item__task__key="order"))


def test_the_answer_time_and_shown_placement_are_stored(client):
    study = make_annotation_study(items=1, k=1, per_participant=1)
    annotate_url, participant = start(client, study)
    client.get(annotate_url)
    allocation = participant.annotation_allocations.get()
    assert allocation.shown_at is not None
    client.post(annotate_url, {"position": allocation.position, "choice": "1"})
    vote = AnnotationVote.objects.get()
    assert vote.seconds is not None and vote.placement == allocation.placement


@pytest.mark.parametrize("data, status", [
    ({"position": "99", "choice": "1"}, 400),  # not allocated to this participant
    ({"position": "abc", "choice": "1"}, 400),
    ({"position": "1", "choice": "3"}, 400),  # not one of the item's choices
    ({"position": "1"}, 400),
])
def test_bad_votes_are_refused_and_store_nothing(client, data, status):
    study = make_annotation_study(items=2, k=1, per_participant=2)
    annotate_url, _ = start(client, study)
    response = client.post(annotate_url, data)
    assert response.status_code == status
    assert b"Nothing was saved" in response.content
    assert not AnnotationVote.objects.exists()


def test_a_vote_on_another_participants_item_is_refused(client):
    study = make_annotation_study(items=2, k=2, per_participant=1)
    annotate_url, _ = start(client, study, "W1")
    other_client = type(client)()
    _, other = start(other_client, study, "W2")
    assert other.annotation_allocations.filter(position=2).count() == 0
    # Positions are the participant's own: W1 has only position 1; position 2 does not exist for them.
    response = client.post(annotate_url, {"position": "2", "choice": "1"})
    assert response.status_code == 400
    assert not AnnotationVote.objects.exists()


def test_a_second_different_vote_on_the_same_item_is_refused_and_a_retry_is_accepted(client):
    study = make_annotation_study(items=2, k=1, per_participant=2)
    annotate_url, participant = start(client, study)
    assert client.post(annotate_url, {"position": "1", "choice": "1"}).status_code == 302
    assert client.post(annotate_url, {"position": "1", "choice": "1"}).status_code == 302  # network retry
    response = client.post(annotate_url, {"position": "1", "choice": "2"})
    assert response.status_code == 409
    assert list(AnnotationVote.objects.values_list("choice", flat=True)) == ["1"]


def test_votes_after_completion_are_refused(client):
    study = make_annotation_study(items=1, k=1, per_participant=1)
    annotate_url, _ = start(client, study)
    client.post(annotate_url, {"position": "1", "choice": "1"})
    response = client.post(annotate_url, {"position": "1", "choice": "2"})
    assert response.status_code == 409
    assert list(AnnotationVote.objects.values_list("choice", flat=True)) == ["1"]


def test_a_full_study_tells_the_next_arrival(client):
    study = make_annotation_study(items=1, k=1, per_participant=1)
    start(client, study, "W1")
    other = type(client)()
    response = other.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "W2", "STUDY_ID": "s", "SESSION_ID": "y"})
    response = other.post(response["Location"], {"consent": "yes"})
    assert b"full" in response.content
    assert AnnotationAllocation.objects.count() == 1


def test_the_annotate_page_is_unknown_to_other_designs(client):
    from tests.studies.factories import make_study

    study = make_study(status=Study.Status.LIVE)
    response = client.get(f"/s/{study.slug}/", {"PROLIFIC_PID": "Z", "STUDY_ID": "s", "SESSION_ID": "x"})
    annotate = response["Location"].replace("/consent/", "/annotate/")
    assert client.get(annotate).status_code == 404
