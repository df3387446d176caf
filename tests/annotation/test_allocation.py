"""Allocation: every item collects exactly k votes from distinct participants; freed places are re-issued."""
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from studies import services as study_services
from studies.designs.annotation import services
from studies.designs.annotation.models import AnnotationAllocation, AnnotationVote
from studies.models import Participant, Study

from .factories import make_annotation_study

pytestmark = pytest.mark.django_db


def arrive(study, pid, *, rng=None, simulated=False):
    participant = study_services.participant_enter(
        study=study, identity=study_services.PlatformIdentity(platform=study.platform, external_id=pid),
        is_simulated=simulated)
    participant = study_services.participant_consent(participant=participant, agreed=True,
                                                     rng=rng or random.Random(pid))
    return study_services.participant_navigate(participant=participant, page="instructions", answers={},
                                               direction="next")


def vote_all(participant, choice="1"):
    for allocation in services.allocations_open(participant=participant):
        keys = allocation.item.choice_keys()
        outcome = services.vote_submit(participant=participant, position=allocation.position,
                                       choice=choice if choice in keys else keys[0])
        participant = outcome.participant
    return participant


def test_every_item_collects_exactly_k_votes_from_distinct_participants():
    study = make_annotation_study(items=5, k=3, per_participant=2)
    done = []
    for index in range(20):
        try:
            participant = arrive(study, f"P{index}")
        except study_services.StudyUnavailable as unavailable:
            assert unavailable.reason == "full"
            break
        done.append(vote_all(participant))
    votes = Counter(AnnotationVote.objects.values_list("item__key", flat=True))
    assert votes == {f"pair-{i}": 3 for i in range(5)}
    assert all(p.status == Participant.Status.COMPLETED for p in done)
    # 15 votes at most 2 per participant: the last one may get a single item.
    assert len(done) == 8
    pairs = AnnotationVote.objects.values_list("participant_id", "item_id")
    assert len(set(pairs)) == len(pairs)  # nobody voted twice on one item


def test_the_last_arrival_is_turned_away_when_every_item_has_k_places():
    study = make_annotation_study(items=2, k=1, per_participant=2)
    arrive(study, "first")
    with pytest.raises(study_services.StudyUnavailable):
        arrive(study, "second")


def test_places_of_returned_and_timed_out_participants_are_reissued():
    study = make_annotation_study(items=2, k=1, per_participant=2)
    returned = arrive(study, "returns")
    study_services.participant_mark_returned(participant=returned)
    timed_out = arrive(study, "times-out")
    Participant.objects.filter(pk=timed_out.pk).update(last_seen_at=timezone.now() - timedelta(days=1))
    study_services.participants_time_out(study=study)
    third = arrive(study, "third")
    assert third.annotation_allocations.count() == 2


def test_a_returning_participant_loses_items_whose_places_went_to_others():
    study = make_annotation_study(items=2, k=1, per_participant=2)
    away = arrive(study, "away")
    study_services.participant_mark_returned(participant=away)
    vote_all(arrive(study, "took-the-places"))
    away = study_services.participant_resume(participant=away)
    assert services.allocations_refresh(participant=away) == 2
    assert not services.allocations_open(participant=away).exists()
    # Nothing left to answer: they complete without an extra vote on a full item.
    assert services.annotation_finish(participant=away).status == Participant.Status.COMPLETED
    assert AnnotationVote.objects.count() == 2


def test_simulated_participants_fill_their_own_places():
    study = make_annotation_study(items=2, k=1, per_participant=2)
    vote_all(arrive(study, "SIM-1", simulated=True))
    real = arrive(study, "real")
    assert real.annotation_allocations.count() == 2


def test_allocation_is_idempotent_and_order_and_placement_are_stored():
    study = make_annotation_study(items=4, k=4, per_participant=4)
    participant = arrive(study, "P")
    again = study_services.participant_consent(participant=participant, agreed=True)
    assert again.annotation_allocations.count() == 4
    placements = AnnotationAllocation.objects.filter(participant=participant).values_list("placement", flat=True)
    assert all(sorted(p) == [1, 2] for p in placements)
    positions = sorted(AnnotationAllocation.objects.filter(participant=participant).values_list("position", flat=True))
    assert positions == [1, 2, 3, 4]


def test_pair_placement_is_randomised_across_participants():
    study = make_annotation_study(items=1, k=40, per_participant=1)
    firsts = Counter(arrive(study, f"P{i}", rng=random.Random(i)).annotation_allocations.get().placement[0]
                     for i in range(40))
    assert set(firsts) == {1, 2}


def test_attention_items_go_to_everyone_and_a_wrong_answer_frees_the_places():
    study = make_annotation_study(items=2, k=1, per_participant=2, attention=True)
    careless = arrive(study, "careless")
    assert careless.annotation_allocations.filter(item__is_attention=True).count() == 1
    careless = vote_all(careless, choice="arms")  # the attention item's answer is "colour"
    assert careless.status == Participant.Status.FAILED_ATTENTION
    careful = arrive(study, "careful")
    assert careful.annotation_allocations.filter(item__is_attention=False).count() == 2


def test_a_paused_study_allocates_nothing():
    study = make_annotation_study(items=2, k=1)
    participant = study_services.participant_enter(
        study=study, identity=study_services.PlatformIdentity(platform=study.platform, external_id="x"))
    Study.objects.filter(pk=study.pk).update(status=Study.Status.PAUSED)
    with pytest.raises(study_services.StudyUnavailable):
        study_services.participant_consent(participant=participant, agreed=True)
    assert not AnnotationAllocation.objects.exists()
