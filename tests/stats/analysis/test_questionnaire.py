"""A whole questionnaire: families, reverse coding, untestable items, post-hoc."""
from __future__ import annotations

import pytest

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.kruskal import TestStatus
from stats.analysis.questionnaire import ItemSpec, analyze_items


def _items():
    return [
        ItemSpec("arms", "arms matter", "pattern"),
        ItemSpec("color", "colour matters", "pattern"),
        ItemSpec("bg", "background matters", "pattern", reverse_coded=True),
        ItemSpec("helpful", "helpful", "satisfaction"),
    ]


def _answers():
    return {
        "arms": {"cf": [7, 7, 7, 6, 7, 7, 6, 7], "bl": [5, 6, 4, 5, 6, 3, 5, 6]},
        "color": {"cf": [5, 6, 4, 3, 5, 6, 2, 5], "bl": [3, 4, 5, 2, 5, 6, 3, 4]},
        "bg": {"cf": [1, 1, 2, 1, 2, 1, 1, 2], "bl": [2, 1, 1, 3, 1, 2, 1, 1]},
        "helpful": {"cf": [7, 7, 6, 7, 6, 7, 7, 7], "bl": [7, 6, 7, 7, 6, 7, 7, 6]},
    }


def test_families_default_to_item_groups_and_correct_separately():
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers())
    assert result["families"] == {"pattern": ["arms", "color", "bg"], "satisfaction": ["helpful"]}
    by_key = {item["key"]: item for item in result["items"]}
    arms = by_key["arms"]["test"]
    assert arms["family_size"] == 3
    assert arms["p_adjusted"] == pytest.approx(min(1.0, 3 * arms["p"]))
    helpful = by_key["helpful"]["test"]
    assert helpful["family_size"] == 1 and helpful["p_adjusted"] == pytest.approx(helpful["p"])
    assert arms["significant"] is (arms["p_adjusted"] < 0.05)


def test_reverse_coded_items_are_recoded_before_summaries():
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers())
    bg = next(item for item in result["items"] if item["key"] == "bg")
    assert bg["conditions"]["cf"]["pct_agree"] == 100.0  # raw 1-2 become 6-7


def test_explicit_families_override_groups_and_are_validated():
    result = analyze_items(
        items=_items(), conditions=["cf", "bl"], answers=_answers(), families={"main": ["arms", "helpful"]}
    )
    fam = {item["key"]: item["family"] for item in result["items"]}
    assert fam == {"arms": "main", "color": "pattern", "bg": "pattern", "helpful": "main"}
    with pytest.raises(AnalysisInputError, match="unknown item 'nope'"):
        analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers(), families={"x": ["nope"]})


def test_items_without_answers_or_variance_are_never_significant():
    answers = _answers()
    answers["color"] = {"cf": [], "bl": []}
    answers["helpful"] = {"cf": [7] * 8, "bl": [7] * 8}
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=answers)
    by_key = {item["key"]: item for item in result["items"]}
    assert by_key["color"]["test"]["status"] == "no_answers"
    assert by_key["helpful"]["test"]["status"] == TestStatus.NO_VARIANCE
    for key in ("color", "helpful"):
        assert by_key[key]["test"]["p"] is None and by_key[key]["test"]["significant"] is False
    assert by_key["arms"]["test"]["family_size"] == 2  # the untestable item does not count
    assert result["problems"] == ["No test possible: item 'color' has no answers."]


def test_one_condition_and_unknown_correction_are_refused():
    with pytest.raises(AnalysisInputError, match="at least two conditions"):
        analyze_items(items=_items(), conditions=["cf"], answers=_answers())
    with pytest.raises(AnalysisInputError, match="Unknown correction"):
        analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers(), correction="none")


def test_posthoc_runs_for_significant_items_with_three_conditions():
    items = [ItemSpec("arms", group="pattern")]
    answers = {"arms": {"a": [1, 2, 1, 2, 1, 2], "b": [4, 4, 3, 4, 5, 4], "c": [7, 6, 7, 7, 6, 7]}}
    result = analyze_items(items=items, conditions=["a", "b", "c"], answers=answers)
    assert result["items"][0]["test"]["significant"]
    assert len(result["items"][0]["posthoc"]) == 3

