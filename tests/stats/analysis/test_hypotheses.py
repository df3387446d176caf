"""Preregistered hypotheses: verdicts on the seed's examples and refused parameters."""
from __future__ import annotations

import pytest

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.hypotheses import evaluate_hypothesis, validate_hypothesis


def test_proportion_hypothesis_verdicts_follow_the_threshold():
    values = {"arms": {"bl": [5, 6, 7, 4, 5, 6, 1, 5, 6, 7]}}
    confirmed = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.8}, values=values,
        scale_points={"arms": 7},
    )
    assert confirmed["verdict"] == "confirmed" and confirmed["observed_pct"] == pytest.approx(80.0)
    rejected = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.81}, values=values,
        scale_points={"arms": 7},
    )
    assert rejected["verdict"] == "rejected"
    disagree = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.1, "side": "disagree"},
        values=values, scale_points={"arms": 7},
    )
    assert disagree["verdict"] == "confirmed" and disagree["observed_pct"] == pytest.approx(10.0)


def test_proportion_hypothesis_below_a_threshold_is_the_seeds_h2():
    """Appendix E, H2: the baseline does NOT let users detect the colour bias (43.33% agree < 50%)."""
    values = {"colour": {"bl": [5] * 13 + [4] * 2 + [2] * 15}}
    below = {"item": "colour", "condition": "bl", "threshold": 0.5, "comparison": "below"}
    result = evaluate_hypothesis("proportion_agree", below, values=values, scale_points={"colour": 7})
    assert result["verdict"] == "confirmed" and result["observed_pct"] == pytest.approx(43.3333, rel=1e-4)
    assert "below 50.00%" in result["statement"]
    majority = {"colour": {"bl": [6] * 16 + [2] * 14}}
    assert evaluate_hypothesis("proportion_agree", below, values=majority, scale_points={"colour": 7})[
        "verdict"] == "rejected"


def test_condition_greater_needs_significance_and_the_stated_direction():
    values = {"arms": {"cf": [7, 7, 7, 6, 7, 7, 6, 7, 7, 7], "bl": [5, 6, 4, 5, 6, 3, 5, 6, 4, 5]}}
    params = {"item": "arms", "higher": "cf", "lower": "bl", "alpha": 0.05}
    assert evaluate_hypothesis("condition_greater", params, values=values, scale_points={"arms": 7})[
        "verdict"] == "confirmed"
    reversed_params = {**params, "higher": "bl", "lower": "cf"}
    result = evaluate_hypothesis("condition_greater", reversed_params, values=values, scale_points={"arms": 7})
    assert result["verdict"] == "rejected" and result["direction_as_predicted"] is False
    one_sided = evaluate_hypothesis(
        "condition_greater", {**params, "test": "mann_whitney"}, values=values, scale_points={"arms": 7}
    )
    assert one_sided["verdict"] == "confirmed"
    same = {"arms": {"cf": [4] * 5, "bl": [4] * 5}}
    assert evaluate_hypothesis("condition_greater", params, values=same, scale_points={"arms": 7})[
        "verdict"] == "not_evaluable"


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("bigger", {}, "Unknown hypothesis kind"),
        ("proportion_agree", {"item": "arms", "condition": "cf"}, "numeric 'threshold'"),
        ("proportion_agree", {"item": "arms", "condition": "cf", "threshold": 80}, "threshold must be in"),
        ("proportion_agree", {"item": "arms", "condition": "cf", "threshold": 0.5, "comparison": "under"},
         "comparison must be"),
        ("condition_greater", {"item": "arms", "higher": "a", "lower": "a"}, "must differ"),
        ("condition_greater", {"item": "arms", "higher": "a", "lower": "b", "test": "t"}, "test must be"),
    ],
)
def test_bad_hypotheses_are_refused_with_a_reason(kind, params, message):
    with pytest.raises(AnalysisInputError, match=message):
        validate_hypothesis(kind, params)
