"""Majority vote, Wilson intervals and Fleiss' kappa of annotation tasks, against published values."""
import pytest

from stats.analysis.agreement import (
    ItemVotes,
    agreement_summary,
    fleiss_kappa_summary,
    kappa_interpretation,
    majority_vote,
    proportion_summary,
)
from stats.analysis.cleaning import AnalysisInputError

# Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin 76(5),
# 378-382, Table 1: 30 patients, each diagnosed by 6 of 43 psychiatrists; the number of psychiatrists who
# chose depression, personality disorder, schizophrenia, neurosis, other. The paper reports kappa = .430.
FLEISS_1971_TABLE_1 = [
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
]


def test_fleiss_1971_psychiatric_diagnoses_give_the_published_kappa():
    result = fleiss_kappa_summary(FLEISS_1971_TABLE_1)
    assert (result["subjects"], result["raters"], result["categories"]) == (30, 6, 5)
    assert round(result["kappa"], 3) == 0.430
    # irr::kappam.fleiss(diagnoses) reports z = 17.65 on this table (the null standard error of
    # Fleiss, Nee & Landis 1979): se = kappa / z.
    assert result["z"] == pytest.approx(17.65183, abs=1e-4)
    assert result["se"] == pytest.approx(0.4302445 / 17.65183, rel=1e-5)
    assert result["p"] < 1e-10
    assert result["interpretation"] == "Moderate"  # Table 5's reading of 0.41-0.60


def test_perfect_agreement_is_kappa_one_and_disagreement_is_negative():
    assert fleiss_kappa_summary([[3, 0], [0, 3], [3, 0]])["kappa"] == pytest.approx(1.0)
    assert fleiss_kappa_summary([[1, 1], [1, 1], [1, 1]])["kappa"] < 0


def test_kappa_is_undefined_when_every_vote_is_the_same():
    result = fleiss_kappa_summary([[4, 0], [4, 0]])
    assert result["kappa"] is None and "undefined" in result["note"]


def test_unequal_votes_per_item_are_refused():
    with pytest.raises(AnalysisInputError, match="same number of votes"):
        fleiss_kappa_summary([[2, 1], [1, 1]])


@pytest.mark.parametrize("votes, expected", [
    (["a", "a", "b"], ("a", False)),
    (["a", "b"], (None, True)),
    (["a", "a", "b", "b", "c"], (None, True)),
    ([], (None, False)),
])
def test_majority_vote_names_ties(votes, expected):
    assert majority_vote(votes) == expected


def test_wilson_interval_matches_the_closed_form():
    # Wilson (1927): 8 of 10, z = 1.959964 -> [0.4902, 0.9433] (e.g. Newcombe 1998, Table I method 3).
    summary = proportion_summary(8, 10)
    assert summary["proportion"] == 0.8
    assert summary["ci_low"] == pytest.approx(0.4902, abs=1e-4)
    assert summary["ci_high"] == pytest.approx(0.9433, abs=1e-4)


def test_agreement_summary_counts_ties_as_wrong_and_uses_the_first_k_votes():
    choices = ("1", "2")
    items = [
        ItemVotes("easy", ("1", "1", "1", "2", "2"), choices, truth="1"),  # k=4: 3 of 4 right
        ItemVotes("tie", ("1", "2", "1", "2"), choices, truth="1"),
        ItemVotes("wrong", ("2", "2", "2", "1"), choices, truth="1"),
        ItemVotes("short", ("1",), choices, truth="1"),  # fewer than k votes: left out
    ]
    summary = agreement_summary(items, k=4)
    assert summary["items_with_k_votes"] == 3 and summary["items_missing_votes"] == 1
    assert summary["majority_vote"]["successes"] == 1
    assert summary["majority_vote"]["n"] == 3
    assert summary["majority_vote"]["ties"] == 1
    assert summary["raw_votes"]["successes"] == 3 + 2 + 1
    assert summary["raw_votes"]["n"] == 12
    assert summary["fleiss_kappa"]["raters"] == 4


def test_ground_truth_outside_the_choices_is_refused():
    with pytest.raises(AnalysisInputError, match="ground truth"):
        agreement_summary([ItemVotes("x", ("a", "a"), ("a", "b"), truth="c")], k=2)


@pytest.mark.parametrize("kappa, label", [(-0.1, "Poor"), (0.09, "Slight"), (0.28, "Fair"), (0.41, "Moderate"),
                                          (0.7, "Substantial"), (0.9, "Almost perfect")])
def test_kappa_interpretation_follows_table_5(kappa, label):
    assert kappa_interpretation(kappa) == label
