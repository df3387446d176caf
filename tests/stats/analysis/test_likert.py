"""Likert summaries: agree / neutral / disagree on any odd scale, reverse coding, bad answers."""
from __future__ import annotations

import pytest

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.likert import likert_summary, reverse_code


def test_seven_point_summary_splits_1_to_3_4_and_5_to_7():
    summary = likert_summary([1, 2, 3, 4, 4, 5, 6, 7, 7, 7], 7)
    assert summary["counts"] == [1, 1, 1, 2, 1, 1, 3]
    assert summary["pct_disagree"] == pytest.approx(30.0)
    assert summary["pct_neutral"] == pytest.approx(20.0)
    assert summary["pct_agree"] == pytest.approx(50.0)
    assert sum(summary["percentages"]) == pytest.approx(100.0)


@pytest.mark.parametrize("points", [3, 5, 9, 11])
def test_any_odd_scale_has_a_single_neutral_middle(points):
    middle = (points + 1) // 2
    summary = likert_summary(list(range(1, points + 1)), points)
    assert summary["pct_neutral"] == pytest.approx(100.0 / points)
    assert summary["pct_disagree"] == pytest.approx(100.0 * (middle - 1) / points)
    assert summary["pct_agree"] == summary["pct_disagree"]


def test_likert_rejects_even_scales_and_out_of_range_answers():
    with pytest.raises(AnalysisInputError, match="odd"):
        likert_summary([1, 2], 6)
    with pytest.raises(AnalysisInputError, match="not a point of the 1..7 scale"):
        likert_summary([1, 8], 7)
    with pytest.raises(AnalysisInputError, match="not a point"):
        likert_summary([2.5], 7)


def test_reverse_coding_mirrors_the_scale():
    assert reverse_code([1, 4, 7], 7) == [7, 4, 1]

