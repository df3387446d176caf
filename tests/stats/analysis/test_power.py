"""Sample-size planning: reference value from the notes, simulation behaviour, bad input."""
from __future__ import annotations

import pytest

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.power import kruskal_power_simulated, plan_from_cohens_d, plan_from_distributions

AGREEING = [0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.3]
UNDECIDED = [0.1, 0.15, 0.15, 0.2, 0.15, 0.15, 0.1]


def test_cohens_d_half_with_six_statements_needs_104_per_group():
    plan = plan_from_cohens_d(d=0.5, alpha=0.05, power=0.8, family_size=6)
    assert plan.n_per_condition == 104
    assert plan.alpha_per_test == pytest.approx(0.05 / 6)
    assert plan.n_total == 208


def test_worst_case_efficiency_needs_more_participants_and_larger_effects_fewer():
    normal = plan_from_cohens_d(d=0.5, family_size=6)
    worst = plan_from_cohens_d(d=0.5, family_size=6, efficiency="worst_case")
    assert worst.n_per_condition > normal.n_per_condition
    assert plan_from_cohens_d(d=0.8, family_size=6).n_per_condition < normal.n_per_condition


def test_simulated_power_is_near_alpha_without_effect_and_high_with_a_clear_one():
    null = kruskal_power_simulated([UNDECIDED, UNDECIDED], n_per_condition=30, alpha=0.05, simulations=1500)
    assert 0.02 < null < 0.08
    strong = kruskal_power_simulated([AGREEING, UNDECIDED], n_per_condition=60, alpha=0.05, simulations=500)
    assert strong > 0.9


def test_simulation_is_reproducible_with_a_seed():
    first = kruskal_power_simulated([AGREEING, UNDECIDED], n_per_condition=15, alpha=0.05, simulations=300, seed=4)
    again = kruskal_power_simulated([AGREEING, UNDECIDED], n_per_condition=15, alpha=0.05, simulations=300, seed=4)
    assert first == again


def test_plan_from_distributions_reaches_the_requested_power():
    plan = plan_from_distributions(distributions=[AGREEING, UNDECIDED], family_size=6, simulations=300)
    assert plan.details["achieved_power"] >= 0.8
    below = kruskal_power_simulated(
        [AGREEING, UNDECIDED], n_per_condition=plan.n_per_condition - 1, alpha=0.05 / 6, simulations=300
    )
    assert below < 0.8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"d": 0}, "positive"),
        ({"d": 0.5, "alpha": 1.5}, "alpha"),
        ({"d": 0.5, "power": 1}, "power"),
        ({"d": 0.5, "family_size": 0}, "family_size"),
        ({"d": 0.5, "efficiency": "magic"}, "efficiency"),
    ],
)
def test_bad_plans_are_refused(kwargs, message):
    with pytest.raises(AnalysisInputError, match=message):
        plan_from_cohens_d(**kwargs)


def test_bad_distributions_are_refused():
    with pytest.raises(AnalysisInputError, match="sum to 1"):
        plan_from_distributions(distributions=[[0.5, 0.5, 0.5], [0.2, 0.3, 0.5]])
    with pytest.raises(AnalysisInputError, match="same number of scale points"):
        kruskal_power_simulated([[0.5, 0.5, 0], [0.2, 0.8]], n_per_condition=10, alpha=0.05)
    with pytest.raises(AnalysisInputError, match="barely differ"):
        plan_from_distributions(distributions=[UNDECIDED, UNDECIDED], simulations=50, max_n=64)


def test_the_simulation_tests_with_the_analysis_own_kruskal_wallis(monkeypatch):
    import stats.analysis.power as power
    from stats.analysis.kruskal import kruskal_h

    seen = []

    def spy(pooled, sizes):
        seen.append((pooled.shape, list(sizes)))
        return kruskal_h(pooled, sizes)

    monkeypatch.setattr(power, "kruskal_h", spy)
    kruskal_power_simulated([AGREEING, UNDECIDED], n_per_condition=12, alpha=0.05, simulations=40)
    assert seen == [((40, 24), [12, 12])]
