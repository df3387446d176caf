"""Counterbalanced trial lists (Luss et al., section 5): every ordered pair equally often, no repeated image."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from studies.designs.trials import services
from studies.designs.trials.models import Trial, TrialSession
from studies.models import Participant
from studies.services import PlatformIdentity, StudyUnavailable, participant_consent, participant_enter, study_launch

from .factories import make_trials_study


@pytest.mark.parametrize(("k", "trials", "repeats"), [(3, 24, 4), (4, 24, 2), (4, 12, 1), (2, 6, 3)])
def test_plan_shows_every_ordered_pair_equally_often(k, trials, repeats):
    methods = [f"m{i}" for i in range(k)]
    plan = services.counterbalanced_plan(methods, list(range(40)), trials=trials, rng=random.Random(1))
    counts = Counter((t.first, t.second) for t in plan)
    assert len(counts) == k * (k - 1)
    assert set(counts.values()) == {repeats}
    assert len({t.image for t in plan}) == trials
    assert [t.position for t in plan] == list(range(1, trials + 1))


def test_plan_order_and_images_differ_between_seeds_but_repeat_for_one_seed():
    methods, images = ["a", "b", "c"], list(range(76))
    one = services.counterbalanced_plan(methods, images, trials=24, rng=random.Random(5))
    same = services.counterbalanced_plan(methods, images, trials=24, rng=random.Random(5))
    other = services.counterbalanced_plan(methods, images, trials=24, rng=random.Random(6))
    assert one == same
    assert [(t.first, t.second, t.image) for t in one] != [(t.first, t.second, t.image) for t in other]


def test_order_is_shuffled_not_blocked():
    plan = services.counterbalanced_plan(["a", "b", "c"], list(range(24)), trials=24, rng=random.Random(3))
    firsts = [(t.first, t.second) for t in plan[:6]]
    assert len(set(firsts)) < 6 or firsts != services.ordered_pairs(["a", "b", "c"])


@pytest.mark.parametrize(("k", "trials", "pool", "message"), [
    (3, 20, 40, "multiple of 6"), (4, 18, 40, "multiple of 12"), (3, 24, 10, "only 10 pool image"),
    (1, 6, 40, "at least two methods"),
])
def test_unbalanceable_configurations_are_named(k, trials, pool, message):
    problem = services.balance_problem(methods=k, trials=trials, pool=pool)
    assert message in problem
    with pytest.raises(ValueError, match=message.split()[0]):
        services.counterbalanced_plan([f"m{i}" for i in range(k)], list(range(pool)), trials=trials,
                                      rng=random.Random(0))


def _consented(study, pid="P1", rng=None):
    participant = participant_enter(study=study, identity=PlatformIdentity(platform="prolific", external_id=pid))
    return participant_consent(participant=participant, agreed=True, rng=rng or random.Random(0))


def test_consent_stores_a_balanced_trial_list(researcher):
    study = make_trials_study(owner=researcher)
    participant = _consented(study)
    trials = list(Trial.objects.filter(participant=participant))
    assert len(trials) == 24
    assert set(Counter((t.first_method_id, t.second_method_id) for t in trials).values()) == {4}
    assert len({t.pool_image_id for t in trials}) == 24
    assert participant.current_page == "instructions"
    assert TrialSession.objects.get(participant=participant).current_position == 1


def test_allocation_is_idempotent(researcher):
    study = make_trials_study(owner=researcher)
    participant = _consented(study)
    before = list(Trial.objects.filter(participant=participant).values_list("pk", "pool_image_id"))
    study.refresh_from_db()
    from studies.designs.registry import design_for

    design_for(study).allocate(participant=participant, rng=random.Random(99))
    assert list(Trial.objects.filter(participant=participant).values_list("pk", "pool_image_id")) == before


def test_participants_get_different_orders(researcher):
    study = make_trials_study(owner=researcher)
    a = _consented(study, "A", random.Random(1))
    b = _consented(study, "B", random.Random(2))
    order = lambda p: list(Trial.objects.filter(participant=p).values_list("first_method_id", "second_method_id",  # noqa: E731
                                                                            "pool_image_id"))
    assert order(a) != order(b)


def test_four_methods_give_twelve_permutations_twice(researcher):
    study = make_trials_study(owner=researcher, methods=4, trials=24)
    participant = _consented(study)
    counts = Counter(Trial.objects.filter(participant=participant).values_list("first_method_id", "second_method_id"))
    assert len(counts) == 12 and set(counts.values()) == {2}


def test_launch_refuses_a_method_without_an_output_for_a_pool_image(researcher):
    study = make_trials_study(owner=researcher, launch=False)
    method = study.trial_methods.first()
    method.explanations.filter(pool_image__key="img-3").delete()
    with pytest.raises(ValidationError) as error:
        study_launch(study=study)
    assert "img-3" in str(error.value.message_dict["trial_methods"])
    assert Participant.objects.count() == 0


def test_launch_refuses_trials_that_cannot_balance(researcher):
    study = make_trials_study(owner=researcher, launch=False)
    services.trial_setup_save(study=study, trials_per_participant=20)
    with pytest.raises(ValidationError) as error:
        study_launch(study=study)
    assert "multiple of 6" in " ".join(error.value.message_dict["trials"])


def test_launch_refuses_a_pool_smaller_than_the_trial_list(researcher):
    study = make_trials_study(owner=researcher, pool=12, launch=False)
    with pytest.raises(ValidationError) as error:
        study_launch(study=study)
    assert "12 pool image" in " ".join(error.value.message_dict["trials"])


def test_configuration_is_frozen_once_participants_have_trials(researcher):
    study = make_trials_study(owner=researcher)
    _consented(study)
    with pytest.raises(ValidationError):
        services.trial_setup_save(study=study, trials_per_participant=12)
    with pytest.raises(ValidationError):
        services.trial_method_create(study=study, key="new", name="New", description="x")
    assert study.trial_methods.count() == 3


def test_setup_refuses_bad_labels_and_placeholders(researcher):
    study = make_trials_study(owner=researcher, launch=False)
    with pytest.raises(ValidationError) as error:
        services.trial_setup_save(study=study, first_labels=["only", "two"])
    assert "first_labels" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.trial_setup_save(study=study, prediction_template="It is a {label}")
    assert "prediction_template" in error.value.message_dict


def test_unknown_explanation_method_is_refused(researcher):
    study = make_trials_study(owner=researcher, launch=False)
    with pytest.raises(ValidationError) as error:
        services.trial_method_create(study=study, key="x", name="X", description="x", explanation_method="nope")
    assert "unknown explanation method" in str(error.value)


def test_a_study_that_is_not_live_allocates_nothing(researcher):
    study = make_trials_study(owner=researcher)
    participant = participant_enter(study=study, identity=PlatformIdentity(platform="prolific", external_id="Z"))
    study.status = study.Status.PAUSED
    study.save()
    with pytest.raises(StudyUnavailable):
        participant_consent(participant=participant, agreed=True)
    assert not Trial.objects.exists()
