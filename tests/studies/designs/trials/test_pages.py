"""The trials design over HTTP: instructions with reading time, two-step trials, Back, reload, completion,
and the bad input of the issue (out of order, twice at once, Explanation 2 before 1): 4xx, nothing stored."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from studies.designs.trials.models import Trial, TrialAnswerRevision, TrialSession
from studies.models import PageVisit, Participant

from .factories import make_trials_study

PROLIFIC = {"PROLIFIC_PID": "pid-7", "STUDY_ID": "st", "SESSION_ID": "se"}


def start(client: Client, study) -> tuple[Participant, str]:
    """Enter and consent; returns the participant and their instructions URL."""
    consent = client.get(f"/s/{study.slug}/", PROLIFIC)["Location"]
    response = client.post(consent, {"consent": "yes"})
    assert response.status_code == 302 and response["Location"].endswith("/instructions/")
    return Participant.objects.get(study=study), response["Location"]


def to_trials(client: Client, study) -> tuple[Participant, str]:
    participant, instructions = start(client, study)
    assert client.get(instructions).status_code == 200
    response = client.post(instructions, {"action": "next"})
    assert response.status_code == 302 and response["Location"].endswith("/trials/")
    return participant, response["Location"]


def answer(client, url, position, **ratings):
    return client.post(url, {"trial": str(position), "action": "next", **{k: str(v) for k, v in ratings.items()}})


@pytest.fixture
def study(researcher):
    return make_trials_study(owner=researcher)


@pytest.mark.django_db
def test_instructions_show_an_example_of_every_method_and_enforce_the_reading_time(researcher):
    study = make_trials_study(owner=researcher, min_instructions_seconds=30)
    client = Client()
    participant, url = start(client, study)
    page = client.get(url)
    assert page.status_code == 200
    for method in study.trial_methods.all():
        assert method.description.encode() in page.content
    assert b'data-min-seconds="30"' in page.content
    refused = client.post(url, {"action": "next"})
    assert refused.status_code == 400 and b"at least 30 seconds" in refused.content
    participant.refresh_from_db()
    assert participant.current_page == "instructions"
    PageVisit.objects.filter(participant=participant, page="instructions").update(
        entered_at=timezone.now() - timedelta(seconds=31))
    assert client.post(url, {"action": "next"})["Location"].endswith("/trials/")


@pytest.mark.django_db
def test_a_trial_shows_the_prediction_and_reveals_explanation_2_after_the_first_rating(study):
    client = Client()
    participant, url = to_trials(client, study)
    trial = Trial.objects.get(participant=participant, position=1)
    page = client.get(url).content.decode()
    assert f"The system thinks the image shows a {trial.pool_image.prediction}." in page
    assert "Explanation 1" in page and trial.first_method.description in page
    assert "Is the explanation useful?" in page and "I don&#x27;t understand the explanation" in page
    assert "<h2>Explanation 2</h2>" not in page and 'name="second"' not in page
    response = answer(client, url, 1, first=4)
    assert response.status_code == 302 and response["Location"].endswith("/trials/#explanation-2")
    page = client.get(url).content.decode()
    assert "<h2>Explanation 2</h2>" in page and trial.second_method.description in page
    assert "Completes my understanding" in page and f"recognize a {trial.pool_image.prediction}?" in page
    assert answer(client, url, 1, first=4, second=2).status_code == 302
    trial.refresh_from_db()
    assert (trial.first_rating, trial.second_rating) == (4, 2)
    assert TrialSession.objects.get(participant=participant).current_position == 2


@pytest.mark.django_db
def test_a_participant_walks_all_trials_to_the_completion_redirect(study, settings):
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    client = Client()
    participant, url = to_trials(client, study)
    for position in range(1, 25):
        assert answer(client, url, position, first=3).status_code == 302
        response = answer(client, url, position, second=5)
        assert response.status_code == 302
    assert response["Location"].endswith("/complete/")
    final = client.get(response["Location"])
    assert final.status_code == 200 and "cc=DONE123" in final.content.decode()  # shown, then sent on
    participant.refresh_from_db()
    assert participant.status == Participant.Status.COMPLETED
    assert Trial.objects.filter(participant=participant, second_rating=5).count() == 24
    late = answer(client, url, 24, first=1)
    assert late.status_code in (302, 409)
    assert Trial.objects.filter(participant=participant, first_rating=1).count() == 0


@pytest.mark.django_db
def test_reload_resumes_at_the_same_trial_and_back_keeps_answers_with_history(study):
    client = Client()
    participant, url = to_trials(client, study)
    answer(client, url, 1, first=2)
    answer(client, url, 1, second=3)
    answer(client, url, 2, first=5)
    page = client.get(url).content.decode()
    assert 'data-trial="2"' in page and 'value="5" checked' in page
    # Reopening the study link resumes at the same trial.
    resumed = client.get(client.get(f"/s/{study.slug}/", PROLIFIC)["Location"])
    assert resumed.status_code == 200 and b'data-trial="2"' in resumed.content
    back = client.post(url, {"trial": "2", "action": "back"})
    assert back.status_code == 302
    page = client.get(url).content.decode()
    assert 'data-trial="1"' in page and "<h2>Explanation 2</h2>" in page
    assert answer(client, url, 1, first=2, second=4).status_code == 302
    trial = Trial.objects.get(participant=participant, position=1)
    assert trial.second_rating == 4
    assert list(trial.revisions.values_list("question", "value")) == [("first", 2), ("second", 3), ("second", 4)]
    # Back from the first trial returns to the instructions.
    client.post(url, {"trial": "2", "action": "back"})
    assert client.post(url, {"trial": "1", "action": "back"})["Location"].endswith("/instructions/")


@pytest.mark.django_db
def test_explanation_2_before_explanation_1_is_refused_and_stores_nothing(study):
    client = Client()
    participant, url = to_trials(client, study)
    response = answer(client, url, 1, first=3, second=4)
    assert response.status_code == 400 and b"rate Explanation 1 first" in response.content
    response = answer(client, url, 1, second=4)
    assert response.status_code == 400
    trial = Trial.objects.get(participant=participant, position=1)
    assert (trial.first_rating, trial.second_rating) == (None, None)
    assert not TrialAnswerRevision.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("ratings", [{"first": 6}, {"first": 0}, {"first": "abc"}, {"first": ""}, {"first": "2.5"}])
def test_bad_ratings_are_refused(study, ratings):
    client = Client()
    participant, url = to_trials(client, study)
    assert answer(client, url, 1, **ratings).status_code == 400
    assert not TrialAnswerRevision.objects.exists()


@pytest.mark.django_db
def test_an_answer_for_another_trial_is_refused(study):
    client = Client()
    participant, url = to_trials(client, study)
    for position in ("3", "0", "x", ""):
        response = answer(client, url, position, first=3)
        assert response.status_code == 409, position
    assert not TrialAnswerRevision.objects.exists()
    assert TrialSession.objects.get(participant=participant).current_position == 1


@pytest.mark.django_db
def test_the_same_submission_twice_is_a_retry_not_a_second_answer(study):
    client = Client()
    participant, url = to_trials(client, study)
    answer(client, url, 1, first=3)
    assert answer(client, url, 1, first=3, second=2)["Location"].endswith("/trials/")
    repeated = answer(client, url, 1, first=3, second=2)  # the response to the first was lost
    assert repeated.status_code == 302
    conflicting = answer(client, url, 1, first=3, second=5)  # a second tab with another answer
    assert conflicting.status_code == 409
    trial = Trial.objects.get(participant=participant, position=1)
    assert trial.second_rating == 2 and trial.revisions.count() == 2
    assert TrialSession.objects.get(participant=participant).current_position == 2


@pytest.mark.django_db
def test_another_participants_token_or_a_forged_one_shows_nothing(study):
    client = Client()
    participant, url = to_trials(client, study)
    forged = url.replace(url.split("/p/")[1].split("/")[0], "forged:token")
    assert client.get(forged).status_code == 404
    assert client.post(forged, {"trial": "1", "first": "3"}).status_code == 404
    assert not TrialAnswerRevision.objects.exists()


@pytest.mark.django_db
def test_trials_page_before_consent_redirects_to_consent(study):
    client = Client()
    consent = client.get(f"/s/{study.slug}/", PROLIFIC)["Location"]
    response = client.get(consent.replace("/consent/", "/trials/"))
    assert response.status_code == 302 and response["Location"].endswith("/consent/")
