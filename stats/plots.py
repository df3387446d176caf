"""Diverging stacked bar charts of Likert answers (no Django).

One horizontal bar per statement and condition, disagreement to the left of zero, agreement to the right
and the neutral category split across zero (Heiberger & Robbins 2014). This is Figure 4 (pattern
statements) and Figure 10 (explanation satisfaction) of the seed study
(seeds/invertibility-ideal-counterfactuals-user-study.txt). Plain matplotlib ``barh`` with cumulative
offsets; the Figure API is used without pyplot so rendering is safe in threaded web servers, and the
Agg/SVG backends need no display.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # no display on servers; harmless when already set

from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .analysis import AnalysisInputError, check_scale_points  # noqa: E402

FORMATS = ("svg", "png")


@dataclass(frozen=True)
class LikertBar:
    """Percentages (0-100, one per scale point 1..K) of one condition's answers to one statement."""

    statement: str
    condition: str
    percentages: Sequence[float]


def default_labels(scale_points: int) -> list[str]:
    if scale_points == 7:
        return [
            "Strongly disagree", "Disagree", "Somewhat disagree", "Neither agree nor disagree",
            "Somewhat agree", "Agree", "Strongly agree",
        ]
    if scale_points == 5:
        return ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
    return [str(point) for point in range(1, scale_points + 1)]


def bar_segments(percentages: Sequence[float]) -> list[tuple[float, float]]:
    """(left, width) of each category so that the neutral middle category is centred on zero."""
    points = len(percentages)
    check_scale_points(points)
    neutral = points // 2
    left = -(sum(percentages[:neutral]) + percentages[neutral] / 2.0)
    segments = []
    for value in percentages:
        segments.append((left, float(value)))
        left += value
    return segments


def diverging_likert_chart(
    bars: Sequence[LikertBar],
    *,
    scale_points: int = 7,
    labels: Sequence[str] | None = None,
    title: str = "",
    fmt: str = "svg",
) -> bytes:
    """Render the chart; ``bars`` in display order (grouped by statement), returned as SVG or PNG bytes."""
    check_scale_points(scale_points)
    if fmt not in FORMATS:
        raise AnalysisInputError(f"Unknown image format {fmt!r}; choose svg or png.")
    if not bars:
        raise AnalysisInputError("Nothing to plot: no statements with answers.")
    for bar in bars:
        if len(bar.percentages) != scale_points:
            raise AnalysisInputError(
                f"{bar.statement!r}/{bar.condition!r}: {len(bar.percentages)} percentages for a "
                f"{scale_points}-point scale."
            )
    labels = list(labels) if labels else default_labels(scale_points)
    neutral = scale_points // 2
    colours = list(colormaps["RdBu"]([0.08 + 0.84 * i / (scale_points - 1) for i in range(scale_points)]))
    colours[neutral] = (0.78, 0.78, 0.78, 1.0)  # the map's own middle is near-white and vanishes

    # Statements top to bottom, their conditions adjacent, a gap between statements.
    positions, tick_labels, statement_centres = [], [], []
    y = 0.0
    previous = None
    for bar in bars:
        if previous is not None and bar.statement != previous:
            y += 0.6
        positions.append(y)
        tick_labels.append(bar.condition)
        previous = bar.statement
        y += 1.0
    statements: dict[str, list[float]] = {}
    for bar, position in zip(bars, positions, strict=True):
        statements.setdefault(bar.statement, []).append(position)
    statement_centres = [(name, sum(ys) / len(ys)) for name, ys in statements.items()]

    height = 0.9 + 0.36 * len(bars) + 0.15 * len(statements)
    figure = Figure(figsize=(9.5, height), dpi=100)
    axes = figure.add_axes((0.2, 0.7 / height, 0.6, 1 - (1.1 / height)))
    for category in range(scale_points):
        lefts, widths = [], []
        for bar in bars:
            left, width = bar_segments(bar.percentages)[category]
            lefts.append(left)
            widths.append(width)
        axes.barh(
            positions, widths, left=lefts, height=0.8, color=colours[category],
            edgecolor="white", linewidth=0.5, label=labels[category],
        )
    for bar, position in zip(bars, positions, strict=True):
        disagree = sum(bar.percentages[:neutral])
        agree = sum(bar.percentages[neutral + 1 :])
        segments = bar_segments(bar.percentages)
        axes.text(segments[0][0] - 2, position, f"{disagree:.0f}%", ha="right", va="center", fontsize=8)
        axes.text(segments[-1][0] + segments[-1][1] + 2, position, f"{agree:.0f}%", ha="left", va="center",
                  fontsize=8)
        axes.text(104 + 14, position, f"{bar.percentages[neutral]:.0f}%", ha="left", va="center", fontsize=8,
                  color="#555555")
    axes.axvline(0, color="#333333", linewidth=0.8)
    axes.set_xlim(-115, 115)
    axes.set_xticks([-100, -50, 0, 50, 100], ["100%", "50%", "0%", "50%", "100%"])
    axes.set_yticks(positions, tick_labels, fontsize=8)
    axes.invert_yaxis()
    for name, centre in statement_centres:
        axes.annotate(
            name, xy=(0, centre), xycoords=("figure fraction", "data"), xytext=(6, 0),
            textcoords="offset points", ha="left", va="center", fontsize=9, fontweight="bold",
        )
    axes.spines[["top", "right", "left"]].set_visible(False)
    axes.tick_params(axis="y", length=0)
    axes.set_xlabel("disagree  |  agree   (neutral split across zero; grey: % neutral)", fontsize=8)
    if title:
        axes.set_title(title, fontsize=10)
    axes.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), fontsize=7, frameon=False, reverse=True)
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}
    with matplotlib.rc_context({"svg.hashsalt": "studyserver", "svg.fonttype": "none"}):
        figure.savefig(buffer, format=fmt, metadata=metadata, bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


def chart_from_results(results: dict, *, family: str, title: str = "", fmt: str = "svg") -> bytes | None:
    """Chart of one family of the analysis results (docs/ANALYSIS_FORMAT.md), or None if it has no answers."""
    items = [item for item in results.get("items", []) if item["family"] == family]
    bars = []
    scale = None
    for item in items:
        if scale is None:
            scale = item["scale_points"]
        if item["scale_points"] != scale:
            continue  # one chart per scale length; mixed scales cannot share categories
        for condition, summary in item["conditions"].items():
            if summary["n"]:
                label = results.get("condition_names", {}).get(condition, condition)
                # A reverse-coded statement is charted reversed: say so where it is read.
                # (on three lines: the statement names share the narrow margin left of the condition names).
                statement = f'{item["key"]}\n(reversed: agree\n= not {item["key"]})' if item.get(
                    "reverse_coded") else item["key"]
                bars.append(LikertBar(statement, label, summary["percentages"]))
    if not bars:
        return None
    return diverging_likert_chart(bars, scale_points=scale, title=title, fmt=fmt)
