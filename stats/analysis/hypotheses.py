"""Preregistered hypotheses: validated parameters and a verdict on the recoded answers.

One multiplicity policy: inside an analysis, a comparison between conditions rests on the item's test in
the results table and is significant exactly when the table says so (its p adjusted within its family,
against the plan's alpha). A hypothesis made of several statements ("compound", e.g. the seed's H5:
Pattern 2 AND Pattern 3) combines them with "all" or "any" into one verdict, and may require other
hypotheses to be confirmed first (the seed's H9 "is rejected since H5 was rejected", appendix E.1).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError
from .formatting import format_kruskal_apa, format_p
from .kruskal import kruskal_wallis
from .likert import likert_summary

STATEMENT_KINDS = ("proportion_agree", "condition_greater")
HYPOTHESIS_KINDS = (*STATEMENT_KINDS, "compound")
COMBINATIONS = ("all", "any")
HYPOTHESIS_TESTS = ("kruskal_wallis", "mann_whitney")
CONFIRMED, REJECTED, NOT_EVALUABLE = "confirmed", "rejected", "not_evaluable"


def validate_hypothesis(kind: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised parameters of a preregistered hypothesis, or AnalysisInputError saying what is wrong.

    - "proportion_agree": {item, condition, threshold (proportion in (0, 1]), side: "agree"|"disagree",
      comparison: "at_least" (default) | "below"}
      e.g. the seed's H1: at least 80% of the baseline group at least somewhat agree with Pattern 1; its H2
      ("the baseline does not let users detect the colour bias") is side "agree", comparison "below".
    - "condition_greater": {item, higher, lower, alpha (default .05), test: "kruskal_wallis"|"mann_whitney"}
      e.g. H7: counterfactuals rated higher than the baseline; the difference must be significant AND go
      in the stated direction (mean rank of ``higher`` above that of ``lower``).
    """
    if kind not in HYPOTHESIS_KINDS:
        raise AnalysisInputError(f"Unknown hypothesis kind {kind!r}; choose one of: {', '.join(HYPOTHESIS_KINDS)}.")
    if not isinstance(parameters, Mapping):
        raise AnalysisInputError("Hypothesis parameters must be an object.")
    if kind == "compound":
        return _validate_compound(parameters)

    def text(name: str) -> str:
        value = parameters.get(name)
        if not isinstance(value, str) or not value.strip():
            raise AnalysisInputError(f"Hypothesis ({kind}) needs a non-empty {name!r}.")
        return value.strip()

    def number(name: str, default: float | None, low: float, high: float) -> float:
        value = parameters.get(name, default)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AnalysisInputError(f"Hypothesis ({kind}) needs a numeric {name!r}.")
        if not low < float(value) <= high:
            raise AnalysisInputError(f"Hypothesis ({kind}): {name} must be in ({low}, {high}], not {value!r}.")
        return float(value)

    if kind == "proportion_agree":
        side = parameters.get("side", "agree")
        if side not in ("agree", "disagree"):
            raise AnalysisInputError(f"Hypothesis side must be 'agree' or 'disagree', not {side!r}.")
        comparison = parameters.get("comparison", "at_least")
        if comparison not in ("at_least", "below"):
            raise AnalysisInputError(f"Hypothesis comparison must be 'at_least' or 'below', not {comparison!r}.")
        return {
            "item": text("item"),
            "condition": text("condition"),
            "threshold": number("threshold", None, 0.0, 1.0),
            "side": side,
            "comparison": comparison,
        }
    test = parameters.get("test", "kruskal_wallis")
    if test not in HYPOTHESIS_TESTS:
        raise AnalysisInputError(f"Hypothesis test must be one of {', '.join(HYPOTHESIS_TESTS)}, not {test!r}.")
    higher, lower = text("higher"), text("lower")
    if higher == lower:
        raise AnalysisInputError("Hypothesis (condition_greater): higher and lower must differ.")
    alpha = number("alpha", 0.05, 0.0, 1.0)
    if alpha >= 1.0:
        raise AnalysisInputError("Hypothesis (condition_greater): alpha must be below 1.")
    return {"item": text("item"), "higher": higher, "lower": lower, "alpha": alpha, "test": test}


def _validate_compound(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """{"combine": "all"|"any", "statements": [{"kind": ..., <its parameters>}, ...], "requires": [keys]}."""
    combine = parameters.get("combine", "all")
    if combine not in COMBINATIONS:
        raise AnalysisInputError(f"Hypothesis combine must be 'all' or 'any', not {combine!r}.")
    statements = parameters.get("statements")
    if not isinstance(statements, list) or len(statements) < 2:
        raise AnalysisInputError("A compound hypothesis needs a list of at least two statements.")
    normalised = []
    for number, statement in enumerate(statements, start=1):
        if not isinstance(statement, Mapping) or statement.get("kind") not in STATEMENT_KINDS:
            raise AnalysisInputError(
                f"Statement {number} of the compound hypothesis needs a kind: {', '.join(STATEMENT_KINDS)}."
            )
        rest = {key: value for key, value in statement.items() if key != "kind"}
        normalised.append({"kind": statement["kind"], **validate_hypothesis(statement["kind"], rest)})
    requires = parameters.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(key, str) and key for key in requires):
        raise AnalysisInputError("Hypothesis requires must be a list of hypothesis keys.")
    return {"combine": combine, "statements": normalised, "requires": list(requires)}


def hypothesis_statements(kind: str, parameters: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(kind, parameters) of each single statement of a (validated) hypothesis."""
    if kind != "compound":
        return [(kind, dict(parameters))]
    return [(s["kind"], {k: v for k, v in s.items() if k != "kind"}) for s in parameters["statements"]]


def hypothesis_references(kind: str, parameters: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(item or scale keys, condition slugs) a validated hypothesis names."""
    items: set[str] = set()
    conditions: set[str] = set()
    for statement_kind, params in hypothesis_statements(kind, parameters):
        items.add(params["item"])
        if statement_kind == "proportion_agree":
            conditions.add(params["condition"])
        else:
            conditions.update((params["higher"], params["lower"]))
    return items, conditions


def combine_verdicts(combine: str, verdicts: Sequence[str]) -> str:
    """"all": confirmed only if every statement is, rejected as soon as one is; "any" the other way round.
    A statement that cannot be evaluated leaves the verdict open unless the others already decide it."""
    decisive, opposite = (REJECTED, CONFIRMED) if combine == "all" else (CONFIRMED, REJECTED)
    if decisive in verdicts:
        return decisive
    if NOT_EVALUABLE in verdicts:
        return NOT_EVALUABLE
    return opposite


def evaluate_hypothesis(
    kind: str,
    parameters: Mapping[str, Any],
    *,
    values: Mapping[str, Mapping[str, Sequence[float]]],
    scale_points: Mapping[str, int],
    tests: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Verdict of one hypothesis on the (recoded) answers ``values[item][condition]``.

    ``tests`` maps an item (or scale) key to its row of the analysis results: a comparison then uses that
    row's family-adjusted test, as the table shows it. Without it (a hypothesis checked on its own, outside
    an analysis) the comparison runs its own unadjusted test at the hypothesis' alpha.
    Returns {"verdict": confirmed|rejected|not_evaluable, "statement": why, plus the figures used}.
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    params = validate_hypothesis(kind, parameters)
    if kind == "compound":
        parts = [
            {"kind": part_kind, **evaluate_hypothesis(part_kind, part, values=values, scale_points=scale_points,
                                                      tests=tests)}
            for part_kind, part in hypothesis_statements(kind, params)
        ]
        verdict = combine_verdicts(params["combine"], [part["verdict"] for part in parts])
        joiner = " AND " if params["combine"] == "all" else " OR "
        return {"verdict": verdict, "combine": params["combine"], "statements": parts,
                "statement": joiner.join(f"[{part['verdict']}] {part['statement']}" for part in parts)}
    item = params["item"]
    if kind == "condition_greater" and tests is not None:
        return _comparison_from_table(params, tests)
    if item not in values:
        return {"verdict": NOT_EVALUABLE, "statement": f"Item {item!r} is not a Likert item of this study."}
    per_condition = values[item]
    if kind == "proportion_agree":
        condition = params["condition"]
        if condition not in per_condition:
            return {"verdict": NOT_EVALUABLE, "statement": f"Condition {condition!r} is not in this study."}
        summary = likert_summary(per_condition[condition], scale_points[item])
        if summary["n"] == 0:
            return {"verdict": NOT_EVALUABLE, "statement": f"No answers to {item!r} in {condition!r}."}
        observed = summary["pct_agree" if params["side"] == "agree" else "pct_disagree"]
        reaches = observed >= 100.0 * params["threshold"] - 1e-9
        confirmed = reaches if params["comparison"] == "at_least" else not reaches
        relation = "at least" if params["comparison"] == "at_least" else "below"
        return {
            "verdict": CONFIRMED if confirmed else REJECTED,
            "observed_pct": observed,
            "n": summary["n"],
            "statement": (
                f"{observed:.2f}% of {condition} at least somewhat {params['side']} with {item!r} "
                f"(predicted {relation} {100 * params['threshold']:.2f}%, n = {summary['n']})."
            ),
        }
    higher, lower = params["higher"], params["lower"]
    for condition in (higher, lower):
        if condition not in per_condition:
            return {"verdict": NOT_EVALUABLE, "statement": f"Condition {condition!r} is not in this study."}
    pair = {higher: per_condition[higher], lower: per_condition[lower]}
    kw = kruskal_wallis(pair)
    if not kw.ok:
        return {"verdict": NOT_EVALUABLE, "statement": kw.message, "status": kw.status}
    if params["test"] == "mann_whitney":
        test = scipy_stats.mannwhitneyu(
            np.asarray(pair[higher], float), np.asarray(pair[lower], float), alternative="greater",
            use_continuity=True, method="asymptotic",
        )
        p = float(test.pvalue)
        test_text = f"one-sided Mann-Whitney U = {float(test.statistic):.1f}, p = {format_p(p)}"
    else:
        p = kw.p
        test_text = format_kruskal_apa(kw.h, kw.df, kw.n_total, kw.p)
    right_direction = kw.groups[higher].mean_rank > kw.groups[lower].mean_rank
    confirmed = p < params["alpha"] and right_direction
    return {
        "verdict": CONFIRMED if confirmed else REJECTED,
        "p": p,
        "H": kw.h,
        "mean_higher": kw.groups[higher].mean,
        "mean_lower": kw.groups[lower].mean,
        "mean_rank_higher": kw.groups[higher].mean_rank,
        "mean_rank_lower": kw.groups[lower].mean_rank,
        "direction_as_predicted": right_direction,
        "statement": (
            f"{test_text}; mean {kw.groups[higher].mean:.2f} ({higher}) vs {kw.groups[lower].mean:.2f} "
            f"({lower}); alpha = {format_p(params['alpha'])}."
        ),
    }


def _comparison_from_table(params: Mapping[str, Any], tests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A directional comparison judged on the item's row of the results table (family-adjusted p)."""
    item, higher, lower = params["item"], params["higher"], params["lower"]
    row = tests.get(item)
    if row is None:
        return {"verdict": NOT_EVALUABLE, "statement": f"Item {item!r} is not in the results table."}
    test = row["test"]
    for condition in (higher, lower):
        if condition not in row["conditions"]:
            return {"verdict": NOT_EVALUABLE, "statement": f"Condition {condition!r} is not in this study."}
    if test["status"] != "ok" or test["p_adjusted"] is None:
        return {"verdict": NOT_EVALUABLE, "statement": test["message"] or "No test possible.",
                "status": test["status"]}
    rank_higher = row["conditions"][higher]["mean_rank"]
    rank_lower = row["conditions"][lower]["mean_rank"]
    right_direction = rank_higher is not None and rank_lower is not None and rank_higher > rank_lower
    significant = bool(test["significant"])
    evidence = f"{test['apa_adjusted']} ({test['correction']} within family {row['family']!r})"
    pair = next((p for p in row.get("posthoc", []) if {p["a"], p["b"]} == {higher, lower}), None)
    tested_conditions = [c for c, summary in row["conditions"].items() if summary["n"]]
    if significant and len(tested_conditions) > 2:
        # The omnibus test says some conditions differ; this pair must differ in Dunn's test too.
        significant = pair is not None and pair["p_adjusted"] < test["alpha"]
        evidence += f"; Dunn {higher} vs {lower}: p_adj = {format_p(pair['p_adjusted']) if pair else 'n/a'}"
    mean_higher = row["conditions"][higher]["mean"]
    mean_lower = row["conditions"][lower]["mean"]
    return {
        "verdict": CONFIRMED if significant and right_direction else REJECTED,
        "p": test["p"],
        "p_adjusted": test["p_adjusted"],
        "p_method": test.get("p_method", "asymptotic"),
        "family": row["family"],
        "significant": significant,
        "mean_higher": mean_higher,
        "mean_lower": mean_lower,
        "mean_rank_higher": rank_higher,
        "mean_rank_lower": rank_lower,
        "direction_as_predicted": right_direction,
        "statement": (
            f"{item}: {evidence}; mean {_mean_text(mean_higher)} ({higher}) vs {_mean_text(mean_lower)} "
            f"({lower}); alpha = {format_p(test['alpha'])}."
        ),
    }


def _mean_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def evaluate_hypotheses(
    hypotheses: Sequence[Mapping[str, Any]],
    *,
    values: Mapping[str, Mapping[str, Sequence[float]]],
    scale_points: Mapping[str, int],
    tests: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Every hypothesis ({key, kind, parameters, description}) with its verdict, in the given order.

    A hypothesis that requires others is rejected when one of them is rejected, and not evaluable when
    one of them is not evaluable (or unknown).
    """
    outcomes: list[dict[str, Any]] = []
    verdict_of: dict[str, str] = {}
    for hypothesis in hypotheses:
        try:
            outcome = evaluate_hypothesis(hypothesis["kind"], hypothesis["parameters"], values=values,
                                          scale_points=scale_points, tests=tests)
        except AnalysisInputError as error:
            outcome = {"verdict": NOT_EVALUABLE, "statement": str(error)}
        for required in hypothesis["parameters"].get("requires", []) if hypothesis["kind"] == "compound" else []:
            prior = verdict_of.get(required, NOT_EVALUABLE)
            if prior != CONFIRMED and outcome["verdict"] == CONFIRMED:
                outcome["verdict"] = REJECTED if prior == REJECTED else NOT_EVALUABLE
            if prior != CONFIRMED:
                outcome["statement"] = f"Requires {required}, which is {prior.replace('_', ' ')}. " + outcome["statement"]
        verdict_of[hypothesis["key"]] = outcome["verdict"]
        outcomes.append({"key": hypothesis["key"], "kind": hypothesis["kind"],
                         "parameters": hypothesis["parameters"], "description": hypothesis.get("description", ""),
                         **outcome})
    return outcomes
