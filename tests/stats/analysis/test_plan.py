"""The analysis plan: validation (bad input refused with a reason), defaults, departures, text, and
compound hypotheses judged on the family-adjusted table."""
from __future__ import annotations

import pytest

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.hypotheses import evaluate_hypotheses
from stats.analysis.plan import apply_overrides, complete_plan, default_plan, plan_text
from stats.analysis.questionnaire import ItemSpec, analyze_items

CONDITIONS = [{"slug": "cf", "name": "Counterfactual"}, {"slug": "bl", "name": "Baseline"}]
ITEMS = [{"key": k, "group": g} for k, g in (("arms", "pattern"), ("color", "pattern"), ("bg", "pattern"),
                                               ("helpful", "satisfaction"), ("complete", "satisfaction"))]


def _plan(**spec):
    return complete_plan(spec, conditions=CONDITIONS, items=ITEMS)


def test_default_plan_is_the_seed_procedure():
    plan = default_plan(conditions=CONDITIONS, items=ITEMS, min_stimulus_seconds=30, target_per_condition=30)
    assert plan["families"]["pattern"] == {"items": ["arms", "color", "bg"], "correction": "bonferroni"}
    assert plan["scales"]["satisfaction_scale"]["items"] == ["helpful", "complete"]
    assert plan["families"]["satisfaction_scale"]["correction"] == "uncorrected"
    assert plan["exclusions"]["min_stimulus_seconds"] == 30 and plan["planned_sample_size"]["total"] == 60
    assert plan["alpha"] == 0.05 and plan["sidedness"] == "two-sided" and plan["exact"]["policy"] == "auto"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"alpha": 0}, "alpha must be above 0"),
        ({"alpha": 1.0}, "below 1"),
        ({"alpha": "0.05"}, "alpha must be a number"),
        ({"families": {"solo": ["arms"]}}, "Family 'solo' has one item, so a bonferroni correction"),
        ({"families": {"x": ["nope"]}}, "names 'nope', which is not a Likert item"),
        ({"families": {"a": ["arms", "bg"], "b": ["arms", "color"]}}, "in two families"),
        ({"hypotheses": [{"key": "h1", "kind": "proportion_agree",
                          "parameters": {"item": "gone", "condition": "cf", "threshold": 0.5}}]},
         "names item 'gone'"),
        ({"hypotheses": [{"key": "h9", "kind": "compound", "parameters": {
            "combine": "all", "requires": ["h5"], "statements": [
                {"kind": "condition_greater", "item": "arms", "higher": "cf", "lower": "bl"},
                {"kind": "condition_greater", "item": "color", "higher": "cf", "lower": "bl"}]}}]},
         "requires 'h5'"),
        ({"tests": {"arms": {"test": "kruskal_wallis", "alternative": "greater"}}}, "two-sided"),
        ({"sidedness": "one-sided"}, "sidedness"),
        ({"exact": {"policy": "never"}}, "never used for small groups"),
        ({"exclusions": {"min_stimulus_seconds": -1}}, "min_stimulus_seconds must be at least 0"),
        ({"colour": 1}, "Unknown plan field"),
    ],
)
def test_bad_plans_are_refused_with_a_reason(spec, message):
    with pytest.raises(AnalysisInputError, match=message):
        _plan(**spec)


def test_a_one_item_family_without_correction_is_accepted():
    plan = _plan(families={"solo": {"items": ["arms"], "correction": "uncorrected"}})
    assert plan["families"]["solo"]["correction"] == "uncorrected"
    assert plan["families"]["pattern"]["items"] == ["color", "bg"]


def test_overrides_are_listed_as_departures():
    plan = _plan()
    same, none = apply_overrides(plan, {"correction": "bonferroni", "alpha": 0.05, "include_simulated": False})
    assert none == [] and same == plan
    changed, departures = apply_overrides(plan, {"correction": "holm", "min_stimulus_seconds": 10.0,
                                                 "include_simulated": True})
    assert changed["correction"] == "holm" and changed["exclusions"]["simulated"] is False
    assert departures == ["correction: 'holm' instead of the planned 'bonferroni'",
                          "exclusion rule simulated: False instead of the planned True",
                          "exclusion threshold min_stimulus_seconds: 10.0 instead of the planned 0.0"]


def test_plan_text_follows_aspredicted():
    text = plan_text(_plan(hypotheses=[{"key": "H7", "kind": "condition_greater", "description": "CF higher",
                                        "parameters": {"item": "arms", "higher": "cf", "lower": "bl"}}]),
                     title="Patterns", version=2, frozen_at="2024-01-01T00:00:00+00:00")
    for question in ("1) Have any data been collected", "2) Hypotheses", "3) Dependent variables",
                     "4) Conditions", "5) Analyses", "6) Outliers and exclusions", "7) Sample size", "8) Other"):
        assert question in text
    assert "H7: CF higher" in text and "Family pattern: arms, color, bg; correction: bonferroni" in text


def _table():
    answers = {"arms": {"cf": [7, 7, 7, 6, 7, 7, 6, 7], "bl": [5, 6, 4, 5, 6, 3, 5, 6]},
               "color": {"cf": [6, 5, 6, 5, 6, 5, 6, 6], "bl": [4, 4, 5, 3, 4, 4, 5, 4]},
               "bg": {"cf": [1, 1, 2, 1, 2, 1, 1, 2], "bl": [2, 1, 1, 3, 1, 2, 1, 1]}}
    items = [ItemSpec(k, group="pattern") for k in answers]
    result = analyze_items(items=items, conditions=["cf", "bl"], answers=answers)
    return {row["key"]: row for row in result["items"]}, answers


def test_hypotheses_use_the_family_adjusted_p_exactly_as_the_table():
    rows, answers = _table()
    color = rows["color"]["test"]
    # Significant alone, not after Bonferroni over three: the verdict follows the table.
    assert color["p"] < 0.05 and (color["p_adjusted"] < 0.05) is color["significant"]
    hypotheses = [{"key": "h", "kind": "condition_greater", "description": "",
                   "parameters": {"item": "color", "higher": "cf", "lower": "bl"}}]
    outcome = evaluate_hypotheses(hypotheses, values=answers, scale_points={k: 7 for k in answers}, tests=rows)[0]
    assert outcome["p_adjusted"] == color["p_adjusted"]
    assert outcome["verdict"] == ("confirmed" if color["significant"] else "rejected")
    assert color["apa_adjusted"] in outcome["statement"]


def test_compound_hypotheses_combine_into_one_verdict_and_respect_requirements():
    rows, answers = _table()
    greater = lambda item: {"kind": "condition_greater", "item": item, "higher": "cf", "lower": "bl"}  # noqa: E731
    hypotheses = [
        {"key": "both", "kind": "compound", "parameters": {"combine": "all", "statements": [greater("arms"),
                                                                                           greater("bg")]}},
        {"key": "either", "kind": "compound", "parameters": {"combine": "any", "statements": [greater("arms"),
                                                                                             greater("bg")]}},
        {"key": "after", "kind": "compound", "parameters": {"combine": "any", "requires": ["both"],
                                                            "statements": [greater("arms"), greater("bg")]}},
    ]
    verdicts = {h["key"]: h for h in evaluate_hypotheses(hypotheses, values=answers,
                                                         scale_points={k: 7 for k in answers}, tests=rows)}
    assert [s["verdict"] for s in verdicts["both"]["statements"]] == ["confirmed", "rejected"]
    assert verdicts["both"]["verdict"] == "rejected" and verdicts["either"]["verdict"] == "confirmed"
    assert verdicts["after"]["verdict"] == "rejected" and "Requires both, which is rejected" in verdicts["after"][
        "statement"]
