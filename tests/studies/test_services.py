"""Services and selectors: balanced assignment, entry rules, answers and their history, bad input."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from stats.services.exports import response_rows
from studies import selectors, services
from studies.models import FREE_TEXT_MAX_LENGTH, Condition, Item, Participant, Response, ResponseRevision, Study

from .factories import GOOD_STIMULUS_ANSWERS, make_study


def arrive(study: Study, external_id: str, rng=None) -> Participant:
    participant = services.participant_enter(
        study=study, identity=services.PlatformIdentity(platform=study.platform, external_id=external_id)
    )
    return services.participant_consent(participant=participant, agreed=True, rng=rng)


def on_stimulus_page(study: Study, external_id: str = "p") -> Participant:
    participant = arrive(study, external_id)
    return services.participant_navigate(participant=participant, page="instructions", answers={}, direction="next")


def database_state():
    return (
        sorted(Response.objects.values_list("participant_id", "item_id", "value_int", "value_text")),
        ResponseRevision.objects.count(),
        sorted(Participant.objects.values_list("pk", "status", "current_page", "completed_at")),
    )


@pytest.mark.django_db
def test_sequential_arrivals_fill_conditions_evenly(researcher):
    study = make_study(owner=researcher, conditions=3)
    rng = random.Random(0)
    for index in range(30):
        arrive(study, f"p{index}", rng)
    counts = selectors.condition_fill_counts(study=study)
    assert sorted(counts.values()) == [10, 10, 10]


@pytest.mark.django_db
def test_returned_and_timed_out_places_are_refilled(study):
    rng = random.Random(1)
    participants = [arrive(study, f"p{i}", rng) for i in range(4)]
    by_condition: dict[int, list[Participant]] = {}
    for participant in participants:
        by_condition.setdefault(participant.condition_id, []).append(participant)
    emptied, kept = list(by_condition)
    for participant in by_condition[emptied]:
        services.participant_mark_returned(participant=participant)
    assert selectors.condition_fill_counts(study=study) == {emptied: 0, kept: 2}
    assert arrive(study, "new-1", rng).condition_id == emptied
    assert arrive(study, "new-2", rng).condition_id == emptied
    # Participants idle past the cutoff free their place too.
    Participant.objects.filter(condition_id=kept).update(last_seen_at=timezone.now() - timedelta(hours=3))
    assert selectors.condition_fill_counts(study=study)[kept] == 0
    assert services.participants_time_out(study=study) == 2
    assert Participant.objects.filter(status=Participant.Status.TIMED_OUT).count() == 2


@pytest.mark.django_db
def test_ties_are_broken_at_random(researcher):
    chosen = set()
    for seed in range(12):
        study = make_study(owner=researcher, with_items=False)
        chosen.add(arrive(study, "first", random.Random(seed)).condition.slug)
    assert chosen == {"c0", "c1"}


@pytest.mark.django_db
def test_a_returning_participant_gets_the_same_record_and_condition(study):
    first = arrive(study, "same-person")
    services.participant_mark_returned(participant=first)
    again = services.participant_enter(
        study=study, identity=services.PlatformIdentity(platform=study.platform, external_id="same-person")
    )
    assert again.pk == first.pk and again.condition_id == first.condition_id
    assert again.status == Participant.Status.ACTIVE and again.token == first.token


@pytest.mark.django_db
def test_a_full_study_refuses_new_participants(researcher):
    study = make_study(owner=researcher, target_per_condition=1)
    arrive(study, "a")
    arrive(study, "b")
    with pytest.raises(services.StudyUnavailable) as raised:
        services.participant_enter(study=study, identity=services.PlatformIdentity(platform=study.platform,
                                                                                   external_id="c"))
    assert raised.value.reason == "full"


@pytest.mark.django_db
def test_item_order_is_randomised_per_participant_and_stored(researcher):
    study = make_study(owner=researcher, randomize_items=True)
    for index in range(6):
        Item.objects.create(study=study, key=f"extra{index}", text="x", page=Item.Page.STIMULUS, order=10 + index)
    orders = {tuple(arrive(study, f"p{i}", random.Random(i)).item_order["stimulus"]) for i in range(5)}
    assert len(orders) > 1
    participant = Participant.objects.first()
    shown = [item.key for item in selectors.participant_page_items(participant=participant, page="stimulus")]
    assert shown == participant.item_order["stimulus"]


@pytest.mark.django_db
def test_item_order_without_randomisation_follows_the_configuration(study):
    participant = arrive(study, "p")
    assert participant.item_order["stimulus"] == ["arms", "colour", "attn"]


@pytest.mark.django_db
def test_changing_an_answer_appends_a_revision(study):
    participant = on_stimulus_page(study)
    services.responses_save(participant=participant, page="stimulus", answers={"arms": 5})
    services.responses_save(participant=participant, page="stimulus", answers={"arms": 5})
    services.responses_save(participant=participant, page="stimulus", answers={"arms": "2"})
    response = Response.objects.get(participant=participant, item__key="arms")
    assert response.value_int == 2
    assert list(response.revisions.values_list("value_int", flat=True)) == [5, 2]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answers,field",
    [
        ({"arms": 8}, "arms"),
        ({"arms": 0}, "arms"),
        ({"arms": "3.5"}, "arms"),
        ({"arms": "three"}, "arms"),
        ({"arms": True}, "arms"),
        ({"arms": [1]}, "arms"),
        ({"no-such-item": 3}, "no-such-item"),
        ({"useful": 3}, "useful"),  # an item of another page
        ({"arms": 4, "colour": 99}, "colour"),  # one bad answer rejects the whole submission
    ],
)
def test_bad_answers_are_refused_naming_the_field_and_change_nothing(study, answers, field):
    participant = on_stimulus_page(study)
    services.responses_save(participant=participant, page="stimulus", answers={"arms": 1})
    before = database_state()
    with pytest.raises(ValidationError) as raised:
        services.responses_save(participant=participant, page="stimulus", answers=answers)
    assert field in raised.value.message_dict
    assert database_state() == before


@pytest.mark.django_db
def test_oversized_text_is_refused(study):
    participant = on_stimulus_page(study)
    for page, answers in (("stimulus", GOOD_STIMULUS_ANSWERS), ("satisfaction", {"useful": 4})):
        participant = services.participant_navigate(participant=participant, page=page, answers=answers,
                                                    direction="next")
    before = database_state()
    with pytest.raises(ValidationError) as raised:
        services.participant_navigate(participant=participant, page="free_text",
                                      answers={"comments": "x" * (FREE_TEXT_MAX_LENGTH + 1)}, direction="next")
    assert "5000" in raised.value.message_dict["comments"][0]
    assert database_state() == before


@pytest.mark.django_db
def test_missing_required_answers_block_next_but_not_back(study):
    participant = on_stimulus_page(study)
    before = database_state()
    with pytest.raises(ValidationError) as raised:
        services.participant_navigate(participant=participant, page="stimulus", answers={"arms": 3},
                                      direction="next")
    assert set(raised.value.message_dict) == {"colour", "attn"}
    assert database_state() == before
    participant = services.participant_navigate(participant=participant, page="stimulus", answers={"arms": 3},
                                                direction="back")
    assert participant.current_page == "instructions"
    assert selectors.participant_answers(participant=participant) == {"arms": 3}


@pytest.mark.django_db
def test_items_of_another_condition_or_study_are_refused(study, researcher):
    participant = on_stimulus_page(study)
    other_condition = study.conditions.exclude(pk=participant.condition_id).get()
    Item.objects.create(study=study, condition=other_condition, key="only-other", text="x", page="stimulus")
    other_study = make_study(owner=researcher)
    Item.objects.create(study=other_study, key="foreign", text="x", page="stimulus")
    before = database_state()
    for key in ("only-other", "foreign"):
        with pytest.raises(ValidationError) as raised:
            services.responses_save(participant=participant, page="stimulus", answers={key: 3})
        assert key in raised.value.message_dict
    assert database_state() == before


@pytest.mark.django_db
def test_answers_after_completion_are_refused(study):
    participant = on_stimulus_page(study)
    for page, answers in (("stimulus", GOOD_STIMULUS_ANSWERS), ("satisfaction", {"useful": 4}), ("free_text", {})):
        participant = services.participant_navigate(participant=participant, page=page, answers=answers,
                                                    direction="next")
    assert participant.status == Participant.Status.COMPLETED
    before = database_state()
    with pytest.raises(services.ParticipantFinished):
        services.responses_save(participant=participant, page="satisfaction", answers={"useful": 1})
    with pytest.raises(ValidationError):
        services.participant_navigate(participant=participant, page="free_text", answers={}, direction="next")
    assert database_state() == before


@pytest.mark.django_db
def test_declining_after_consent_is_impossible(study):
    participant = arrive(study, "p")
    with pytest.raises(ValidationError):
        services.participant_decline(participant=participant)


@pytest.mark.django_db
def test_responses_long_excludes_simulated_and_unfinished_participants(study):
    participant = on_stimulus_page(study)
    services.responses_save(participant=participant, page="stimulus", answers={"arms": 2})
    assert response_rows(study=study) == []
    rows = response_rows(study=study, include_unfinished=True)
    assert [(r["item"], r["value"], r["status"]) for r in rows] == [("arms", 2, "active")]
    Participant.objects.filter(pk=participant.pk).update(status=Participant.Status.COMPLETED, is_simulated=True)
    assert response_rows(study=study) == []
    assert len(response_rows(study=study, include_simulated=True)) == 1


@pytest.mark.django_db
def test_launch_needs_a_stimulus_for_every_condition(study):
    study.status = Study.Status.DRAFT
    study.save()
    Condition.objects.create(study=study, name="Empty", slug="empty")
    with pytest.raises(ValidationError) as raised:
        services.study_launch(study=study)
    assert "'empty'" in " ".join(raised.value.message_dict["conditions"])
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT and study.launched_at is None


@pytest.mark.django_db
def test_the_example_study_loads_idempotently(capsys):
    call_command("load_example_study")
    call_command("load_example_study")
    out = capsys.readouterr().out
    assert "Participant URL: http" in out and "/s/example-study/" in out
    study = Study.objects.get(slug="example-study")
    assert (study.conditions.count(), study.items.count()) == (2, 13)
    assert study.items.filter(kind=Item.Kind.ATTENTION_CHECK).count() == 1
    assert set(study.items.values_list("scale_points", flat=True)) == {7}
    assert services.study_launch_problems(study=study) == {}
    for item in study.items.all():
        item.full_clean()


@pytest.mark.django_db
def test_a_submission_is_a_retry_only_when_it_repeats_the_stored_answers(study):
    participant = on_stimulus_page(study)
    services.responses_save(participant=participant, page="stimulus", answers=GOOD_STIMULUS_ANSWERS)

    resent = {key: f" {value} " for key, value in GOOD_STIMULUS_ANSWERS.items()}
    assert services.submission_is_retry(participant=participant, answers=resent, direction="next")
    assert not services.submission_is_retry(participant=participant, answers=resent, direction="back")
    assert not services.submission_is_retry(participant=participant, answers={}, direction="next")
    changed = {**GOOD_STIMULUS_ANSWERS, "arms": 1}
    assert not services.submission_is_retry(participant=participant, answers=changed, direction="next")


@pytest.mark.django_db
def test_autosave_takes_only_the_current_question_page(study):
    participant = on_stimulus_page(study)
    with pytest.raises(ValidationError, match="no questions"):
        services.responses_autosave(participant=participant, page="instructions", answers={"arms": 3})
    with pytest.raises(services.PageOutOfDate):
        services.responses_autosave(participant=participant, page="satisfaction", answers={"useful": 3})
    saved = services.responses_autosave(participant=participant, page="stimulus", answers={"arms": 3})
    assert [response.item.key for response in saved] == ["arms"]
    assert not Response.objects.exclude(item__key="arms").exists()
