"""Dunn's post-hoc test."""
from __future__ import annotations

import pytest

from stats.analysis.posthoc import dunn_posthoc


def test_dunn_adjusts_for_more_than_two_groups():
    groups = {"a": [1, 2, 2, 3, 1, 2, 3], "b": [4, 4, 5, 3, 4, 5, 4], "c": [6, 7, 7, 5, 6, 7, 6]}
    pairs = dunn_posthoc(groups, p_adjust="bonferroni")
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    for pair in pairs:
        assert pair["p_adjusted"] == pytest.approx(min(1.0, 3 * pair["p"]))
    assert pairs[1]["p"] < pairs[0]["p"]  # a vs c is the largest difference
    two = dunn_posthoc({"a": groups["a"], "c": groups["c"]})
    assert two[0]["p"] == two[0]["p_adjusted"]

