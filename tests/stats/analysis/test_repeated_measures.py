"""Friedman, Wilcoxon signed-rank, summaries and the mixed model of within-subject ratings.

Reference values are R's own, printed in the examples of its documentation:

- ``?friedman.test``: RoundingTimes, Hollander & Wolfe (1973), p. 140 ff. — times to round first base with
  three methods for 22 players. R prints "Friedman chi-squared = 11.143, df = 2, p-value = 0.003805".
- ``?wilcox.test``: Hamilton depression scale factor of 9 patients at the first (x) and second (y) visit,
  Hollander & Wolfe (1973), p. 29 f. ``wilcox.test(x, y, paired = TRUE, alternative = "greater")`` prints
  "V = 40, p-value = 0.01953"; the two-sided exact p-value is twice that, 0.03906.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from stats.analysis import AnalysisInputError
from stats.analysis.repeated_measures import (
    Rating,
    friedman_test,
    method_position_figure,
    mixed_model,
    participant_means,
    rating_summary,
    repeated_measures_analysis,
    wilcoxon_signed_rank,
)

from .reference import sig6

ROUNDING_TIMES = [  # Round Out, Narrow Angle, Wide Angle
    [5.40, 5.50, 5.55], [5.85, 5.70, 5.75], [5.20, 5.60, 5.50], [5.55, 5.50, 5.40], [5.90, 5.85, 5.70],
    [5.45, 5.55, 5.60], [5.40, 5.40, 5.35], [5.45, 5.50, 5.35], [5.25, 5.15, 5.00], [5.85, 5.80, 5.70],
    [5.25, 5.20, 5.10], [5.65, 5.55, 5.45], [5.60, 5.35, 5.45], [5.05, 5.00, 4.95], [5.50, 5.50, 5.40],
    [5.45, 5.55, 5.50], [5.55, 5.55, 5.35], [5.45, 5.50, 5.55], [5.50, 5.45, 5.25], [5.65, 5.60, 5.40],
    [5.70, 5.65, 5.55], [6.30, 6.30, 6.25],
]
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


def test_friedman_matches_r_on_rounding_times():
    result = friedman_test(ROUNDING_TIMES)
    assert round(result["statistic"], 3) == 11.143
    assert result["df"] == 2
    assert sig6(result["p"]) == pytest.approx(0.00380504, rel=1e-5)
    assert round(result["p"], 6) == 0.003805
    assert result["kendalls_w"] == pytest.approx(result["statistic"] / (22 * 2))


def test_friedman_without_ties_equals_the_textbook_formula():
    data = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3]], dtype=float)
    rank_sums = data.sum(axis=0)  # rows are already ranks
    n, k = data.shape
    expected = 12 / (n * k * (k + 1)) * float(np.sum(rank_sums ** 2)) - 3 * n * (k + 1)
    assert friedman_test(data)["statistic"] == pytest.approx(expected)


def test_friedman_refuses_too_little_or_constant_data():
    assert friedman_test([[1, 2, 3]])["status"] == "not_testable"
    assert friedman_test([[2, 2, 2], [3, 3, 3]])["status"] == "not_testable"
    with pytest.raises(AnalysisInputError):
        friedman_test([[1.0], [2.0]])
    with pytest.raises(AnalysisInputError):
        friedman_test([[1.0, float("nan")], [2.0, 1.0]])


def test_wilcoxon_matches_r_on_the_depression_example():
    greater = wilcoxon_signed_rank(DEPRESSION_X, DEPRESSION_Y, alternative="greater")
    assert greater["statistic"] == 40
    assert round(greater["p"], 5) == 0.01953
    assert greater["method"] == "exact"
    two_sided = wilcoxon_signed_rank(DEPRESSION_X, DEPRESSION_Y)
    assert round(two_sided["p"], 5) == 0.03906


def test_wilcoxon_with_ties_uses_rs_corrected_normal_approximation():
    x = [3, 4, 4, 5, 2, 4, 5, 3, 4, 4]
    y = [2, 2, 3, 3, 2, 3, 3, 3, 2, 5]
    result = wilcoxon_signed_rank(x, y)
    # By hand, as R's wilcox.test.default does: zeros dropped, mid-ranks, tie-corrected sigma, correction 0.5.
    d = [a - b for a, b in zip(x, y) if a != b]  # 1, 2, 1, 2, 1, 2, 2, -1 -> |d| ties: four 1s, four 2s
    n = len(d)
    assert n == 8 and result["n"] == 8
    v = 2.5 * 3 + 6.5 * 4  # ranks: the 1s share 2.5, the 2s share 6.5; one 1 is negative
    assert result["statistic"] == v
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (2 * (4 ** 3 - 4)) / 48)
    z = (v - n * (n + 1) / 4 - 0.5) / sigma
    assert result["p"] == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert result["method"].startswith("normal")


def test_wilcoxon_without_differences_is_not_testable():
    assert wilcoxon_signed_rank([1, 2], [1, 2])["status"] == "not_testable"


def _ratings(seed: int = 0, participants: int = 12, effect: dict[str, float] | None = None) -> list[Rating]:
    rng = random.Random(seed)
    effect = effect or {"a": 0.0, "b": 1.0, "c": 2.0}
    methods = list(effect)
    ratings = []
    for p in range(participants):
        for trial, (first, second) in enumerate([(m1, m2) for m1 in methods for m2 in methods if m1 != m2] * 2):
            image = f"img{(p * 7 + trial) % 30}"
            for question, position, method in (("usefulness", 1, first), ("added_value", 2, second)):
                value = min(5, max(1, round(2 + effect[method] + rng.gauss(0, 0.7))))
                ratings.append(Rating(participant=f"p{p}", image=image, method=method, question=question,
                                      position=position, value=value))
    return ratings


def test_summary_has_mean_and_standard_error_per_question_and_method():
    ratings = _ratings()
    summary = rating_summary(ratings, methods=["a", "b", "c"], questions=["usefulness", "added_value"])
    assert len(summary) == 6
    cell = next(s for s in summary if s["question"] == "usefulness" and s["method"] == "c")
    values = [r.value for r in ratings if r.question == "usefulness" and r.method == "c"]
    assert cell["n"] == len(values) == 12 * 4
    assert cell["mean"] == pytest.approx(np.mean(values))
    assert cell["se"] == pytest.approx(np.std(values, ddof=1) / math.sqrt(len(values)))
    assert cell["position"] == 1


def test_participant_means_drop_incomplete_blocks():
    ratings = _ratings(participants=3)
    ratings = [r for r in ratings if not (r.participant == "p0" and r.method == "a")]
    participants, matrix, dropped = participant_means(ratings, question="usefulness", methods=["a", "b", "c"])
    assert participants == ["p1", "p2"] and dropped == 1 and matrix.shape == (2, 3)


def test_analysis_detects_a_clear_method_effect_and_corrects_the_pairs():
    result = repeated_measures_analysis(_ratings(), methods=["a", "b", "c"],
                                        questions=["usefulness", "added_value"], correction="holm")
    usefulness = result["tests"][0]
    assert usefulness["friedman"]["significant"] and usefulness["friedman"]["df"] == 2
    assert [(p["first"], p["second"]) for p in usefulness["posthoc"]] == [("a", "b"), ("a", "c"), ("b", "c")]
    for pair in usefulness["posthoc"]:
        assert pair["p_adjusted"] >= pair["p"]
    assert result["correction"] == "holm"


def test_analysis_finds_nothing_without_an_effect():
    result = repeated_measures_analysis(_ratings(seed=3, effect={"a": 1.0, "b": 1.0, "c": 1.0}),
                                        methods=["a", "b", "c"], questions=["usefulness"])
    assert not result["tests"][0]["friedman"]["significant"]


def test_analysis_refuses_unknown_methods_and_corrections():
    with pytest.raises(AnalysisInputError):
        repeated_measures_analysis(_ratings(), methods=["a", "b"], questions=["usefulness"])
    with pytest.raises(AnalysisInputError):
        repeated_measures_analysis(_ratings(), methods=["a", "b", "c"], questions=["usefulness"], correction="x")


def test_mixed_model_recovers_the_method_differences():
    result = mixed_model(_ratings(participants=16), question="usefulness", methods=["a", "b", "c"])
    assert result["status"] == "ok", result["message"]
    effects = {e["method"]: e for e in result["effects"]}
    assert effects["b"]["difference"] == pytest.approx(1.0, abs=0.35)
    assert effects["c"]["difference"] == pytest.approx(2.0, abs=0.35)
    assert effects["c"]["ci_low"] < effects["c"]["difference"] < effects["c"]["ci_high"]
    assert result["n_participants"] == 16 and result["variance_residual"] > 0


def test_mixed_model_reports_too_little_data():
    ratings = [r for r in _ratings(participants=1)]
    assert mixed_model(ratings, question="usefulness", methods=["a", "b", "c"])["status"] == "failed"


def test_figure_is_drawn_as_svg():
    ratings = _ratings(participants=4)
    summary = rating_summary(ratings, methods=["a", "b", "c"], questions=["usefulness", "added_value"])
    svg = method_position_figure(summary, methods=["a", "b", "c"], questions=["usefulness", "added_value"])
    assert svg.startswith(b"<?xml") and b"<svg" in svg
