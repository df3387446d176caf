"""Majority-vote accuracy and inter-rater agreement of annotation tasks (pure; no Django).

The human evaluation of progressive exaggeration (Singla et al., ICLR 2020, appendix A.4, Table 5) asks
several workers the same forced-choice question about an item, takes the majority vote of the k votes per
item as the crowd's answer, scores it against the ground truth, and reports Fleiss' kappa over the votes.
This module computes those numbers:

- ``majority_vote``: the most frequent answer, or a tie (a tie is never counted as correct and is reported);
- ``proportion_summary``: a share with its Wilson score interval (statsmodels ``proportion_confint``);
- ``fleiss_kappa_summary``: Fleiss' kappa (Fleiss 1971; statsmodels ``fleiss_kappa``) with the standard error
  under the null hypothesis of chance agreement by Fleiss, Nee & Landis (1979), its z and p value;
- ``agreement_summary``: everything for one group of items, the row of Table 5;
- ``kappa_interpretation``: the verbal scale Table 5 uses (Viera & Garrett 2005).
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from .cleaning import AnalysisInputError

#: Table 5's reading of kappa (Viera & Garrett 2005): upper bound of each band and its name.
KAPPA_BANDS = ((0.0, "Poor"), (0.20, "Slight"), (0.40, "Fair"), (0.60, "Moderate"), (0.80, "Substantial"),
               (1.0, "Almost perfect"))


@dataclass(frozen=True)
class ItemVotes:
    """The votes one item collected, the choices it offered and its ground truth (None: no ground truth)."""

    key: str
    votes: tuple[str, ...]
    choices: tuple[str, ...]
    truth: str | None = None


def majority_vote(votes: Sequence[str]) -> tuple[str | None, bool]:
    """(the answer most votes chose, whether the top count is shared); (None, False) without votes."""
    if not votes:
        return None, False
    counts = Counter(votes).most_common()
    top = counts[0][1]
    winners = [choice for choice, count in counts if count == top]
    if len(winners) > 1:
        return None, True
    return winners[0], False


def proportion_summary(successes: int, n: int, *, confidence: float = 0.95) -> dict[str, Any]:
    """A share with its Wilson score interval (Wilson 1927), which stays inside [0, 1] for small n."""
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return {"successes": successes, "n": n, "proportion": None, "ci_low": None, "ci_high": None,
                "confidence": confidence}
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return {"successes": successes, "n": n, "proportion": successes / n, "ci_low": float(low),
            "ci_high": float(high), "confidence": confidence}


def vote_table(items: Sequence[ItemVotes], categories: Sequence[str]) -> list[list[int]]:
    """Subjects × categories counts, the layout of Fleiss (1971) Table 1."""
    index = {category: position for position, category in enumerate(categories)}
    table = []
    for item in items:
        row = [0] * len(categories)
        for vote in item.votes:
            if vote not in index:
                raise AnalysisInputError(f"Item {item.key!r}: the vote {vote!r} is not one of its choices "
                                         f"({', '.join(categories)}).")
            row[index[vote]] += 1
        table.append(row)
    return table


def fleiss_kappa_summary(table: Sequence[Sequence[int]]) -> dict[str, Any]:
    """Fleiss' kappa of a subjects × categories count table with every subject rated by the same number of raters.

    The standard error is the asymptotic one under kappa = 0 (Fleiss, Nee & Landis 1979, eq. 12), the one
    irr::kappam.fleiss reports its z with. ``kappa`` is None (with a ``note``) where it is undefined: fewer
    than two subjects, or every vote in one category (chance agreement is then 1).
    """
    from scipy.stats import norm
    from statsmodels.stats.inter_rater import fleiss_kappa

    rows = [list(row) for row in table]
    result: dict[str, Any] = {"kappa": None, "se": None, "z": None, "p": None, "subjects": len(rows),
                              "raters": None, "categories": len(rows[0]) if rows else 0, "note": ""}
    if not rows:
        result["note"] = "no items with a full set of votes"
        return result
    for row in rows:
        if len(row) != result["categories"] or any(isinstance(c, bool) or not isinstance(c, int) or c < 0
                                                   for c in row):
            raise AnalysisInputError("A vote table needs one non-negative count per category in every row.")
    raters = {sum(row) for row in rows}
    if len(raters) != 1:
        raise AnalysisInputError(f"Fleiss' kappa needs the same number of votes for every item; got {sorted(raters)}.")
    n_raters = raters.pop()
    result["raters"] = n_raters
    if n_raters < 2:
        result["note"] = "fewer than two votes per item"
        return result
    if len(rows) < 2:
        result["note"] = "fewer than two items"
        return result
    n_subjects = len(rows)
    total = n_subjects * n_raters
    shares = [sum(row[j] for row in rows) / total for j in range(result["categories"])]
    spread = sum(p * (1 - p) for p in shares)
    if spread == 0:
        result["note"] = "every vote chose the same answer: chance agreement is 1, kappa is undefined"
        return result
    kappa = float(fleiss_kappa(rows, method="fleiss"))
    variance_term = spread ** 2 - sum(p * (1 - p) * (1 - 2 * p) for p in shares)
    se = math.sqrt(2 * max(variance_term, 0.0)) / (spread * math.sqrt(n_subjects * n_raters * (n_raters - 1)))
    z = kappa / se if se > 0 else None
    result.update(kappa=kappa, se=se, z=z, p=float(2 * norm.sf(abs(z))) if z is not None else None,
                  interpretation=kappa_interpretation(kappa))
    return result


def kappa_interpretation(kappa: float | None) -> str:
    if kappa is None:
        return ""
    if kappa < 0:
        return "Poor"
    for upper, name in KAPPA_BANDS[1:]:
        if kappa <= upper:
            return name
    return KAPPA_BANDS[-1][1]


def agreement_summary(items: Sequence[ItemVotes], *, k: int, confidence: float = 0.95) -> dict[str, Any]:
    """One row of Table 5 for a group of items.

    Only items with at least ``k`` votes count; an item with more uses its first ``k`` (in the order given),
    so every item is judged on the same number of votes. Majority-vote accuracy counts a tie as not correct
    and reports the number of ties; raw vote accuracy is the share of single votes that match the truth.
    Items without ground truth enter kappa but not accuracy (its proportion is None when none has one).
    """
    if k < 1:
        raise AnalysisInputError(f"k (votes per item) must be at least 1, not {k}.")
    complete = [ItemVotes(item.key, tuple(item.votes[:k]), item.choices, item.truth)
                for item in items if len(item.votes) >= k]
    scored = [item for item in complete if item.truth is not None]
    for item in scored:
        if item.truth not in item.choices:
            raise AnalysisInputError(f"Item {item.key!r}: its ground truth {item.truth!r} is not one of its "
                                     f"choices ({', '.join(item.choices)}).")
    correct = ties = 0
    for item in scored:
        winner, tie = majority_vote(item.votes)
        ties += tie
        correct += winner == item.truth
    raw_correct = sum(vote == item.truth for item in scored for vote in item.votes)
    categories = sorted({choice for item in complete for choice in item.choices})
    return {
        "items": len(items),
        "items_with_k_votes": len(complete),
        "items_missing_votes": len(items) - len(complete),
        "items_scored": len(scored),
        "majority_vote": {**proportion_summary(correct, len(scored), confidence=confidence), "ties": ties},
        "raw_votes": proportion_summary(raw_correct, len(scored) * k, confidence=confidence),
        "fleiss_kappa": fleiss_kappa_summary(vote_table(complete, categories)),
        "categories": categories,
    }
