"""Diverging stacked bars: geometry of the neutral split and rendering."""
from __future__ import annotations

import pytest

from stats.analysis import AnalysisInputError
from stats.plots import LikertBar, bar_segments, diverging_likert_chart


def test_neutral_category_is_centred_on_zero():
    segments = bar_segments([10, 10, 10, 20, 20, 20, 10])
    neutral_left, neutral_width = segments[3]
    assert neutral_left == pytest.approx(-neutral_width / 2)
    assert segments[0][0] == pytest.approx(-(30 + 10))
    last_left, last_width = segments[-1]
    assert last_left + last_width == pytest.approx(50 + 10)


def test_segments_are_contiguous():
    segments = bar_segments([5, 15, 20, 10, 30])
    for (left, width), (next_left, _) in zip(segments, segments[1:]):
        assert left + width == pytest.approx(next_left)


def test_chart_renders_svg_and_png_with_statements_and_conditions():
    bars = [
        LikertBar("arms", "Counterfactual", [0, 0, 0, 3, 3, 10, 84]),
        LikertBar("arms", "Baseline", [3, 3, 10, 0, 20, 30, 34]),
    ]
    svg = diverging_likert_chart(bars, title="Pattern statements").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "arms" in svg and "Counterfactual" in svg and "97%" in svg
    assert diverging_likert_chart(bars) == diverging_likert_chart(bars)  # reproducible bytes
    png = diverging_likert_chart(bars, fmt="png")
    assert png.startswith(b"\x89PNG")


def test_bad_chart_input_is_refused():
    with pytest.raises(AnalysisInputError, match="Nothing to plot"):
        diverging_likert_chart([])
    with pytest.raises(AnalysisInputError, match="5 percentages for a 7-point scale"):
        diverging_likert_chart([LikertBar("a", "b", [20] * 5)])
    with pytest.raises(AnalysisInputError, match="image format"):
        diverging_likert_chart([LikertBar("a", "b", [20] * 5)], scale_points=5, fmt="gif")
