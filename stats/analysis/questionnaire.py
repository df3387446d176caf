"""A whole questionnaire: every Likert item (and scale score) tested across conditions, corrected per family.

The procedure of the seed study (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3):
per statement a Kruskal-Wallis test across conditions, Bonferroni over the statements of a family,
effect sizes and the agree / neutral / disagree shares, Dunn's post-hoc test for significant items with
more than two conditions. Where a group has fewer than ``min_group_size`` answers (or the plan asks for it)
the p value is exact or a seeded permutation p (stats.analysis.exact), never the chi-square approximation;
effect sizes come with intervals (stats.analysis.effect_sizes).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError
from .corrections import adjust_pvalues, check_correction
from .descriptives import quartiles
from .effect_sizes import epsilon_squared_interval, two_group_effects
from .exact import permutation_pvalue
from .formatting import format_effects_apa, format_kruskal_apa, format_kruskal_apa_adjusted, format_mann_whitney_apa
from .kruskal import SMALL_GROUP_SIZE, TestStatus, kruskal_wallis
from .likert import check_scale_points, likert_summary, likert_values
from .posthoc import dunn_posthoc

NO_ANSWERS = "no_answers"
UNCORRECTED = "uncorrected"
ITEM_TESTS = ("kruskal_wallis", "mann_whitney")


@dataclass(frozen=True)
class ItemSpec:
    """What the analysis needs to know about one Likert item."""

    key: str
    text: str = ""
    group: str = ""
    scale_points: int = 7
    reverse_coded: bool = False


@dataclass(frozen=True)
class PValueSettings:
    """How p values and intervals are computed (the plan's "exact" and "effect_sizes" sections)."""

    exact: str = "auto"  # "auto": exact/permutation p when a group is small; "always": for every test
    min_group_size: int = SMALL_GROUP_SIZE
    resamples: int = 9_999
    seed: int = 0
    intervals: bool = True
    bootstrap_resamples: int = 2_000
    confidence: float = 0.95
    tests: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # key -> {test, alternative}


def item_families(
    items: Sequence[ItemSpec], families: Mapping[str, Any] | None = None, *, extra_keys: Sequence[str] = ()
) -> dict[str, str]:
    """Family of each item: an explicit {family: [item keys]} mapping, otherwise the item's group.

    The default makes the seed's six pattern statements one Bonferroni family and the satisfaction items
    another (its section 3.3). A family may also be given as {"items": [...], "correction": ...}.
    ``extra_keys`` (scale scores) not named in any family form a family of their own.
    """
    keys = [item.key for item in items] + list(extra_keys)
    assigned: dict[str, str] = {}
    for family, members in (families or {}).items():
        for key in family_items(members):
            if key not in keys:
                raise AnalysisInputError(f"Family {family!r} names unknown item {key!r}.")
            if key in assigned:
                raise AnalysisInputError(f"Item {key!r} is in two families ({assigned[key]!r}, {family!r}).")
            assigned[key] = str(family)
    defaults = {item.key: item.group or "default" for item in items}
    return {key: assigned.get(key, defaults.get(key, key)) for key in keys}


def family_items(members: Any) -> list[str]:
    return list(members["items"]) if isinstance(members, Mapping) else list(members)


def item_values(
    item: ItemSpec, conditions: Sequence[str], raw: Mapping[str, Sequence[Any]]
) -> dict[str, list[int]]:
    """Validated answers to one item per condition, reverse-coded items recoded (higher = more agreement)."""
    per_condition: dict[str, list[int]] = {}
    for condition in conditions:
        values = likert_values(
            raw.get(condition, []), item.scale_points, label=f"item {item.key!r}, condition {condition!r}"
        )
        if item.reverse_coded:
            values = item.scale_points + 1 - values
        per_condition[condition] = values.tolist()
    return per_condition


def _score_summary(values: Sequence[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return {"n": 0, "median": None, "q1": None, "q3": None, "iqr": None, "mean": None,
                "pct_disagree": None, "pct_neutral": None, "pct_agree": None}
    median, q1, q3 = quartiles(array)
    return {"n": int(array.size), "median": median, "q1": q1, "q3": q3, "iqr": q3 - q1, "mean": float(array.mean()),
            "pct_disagree": None, "pct_neutral": None, "pct_agree": None}


def _test(key: str, per_condition: Mapping[str, Sequence[float]], settings: PValueSettings) -> dict[str, Any]:
    """The test of one row: Kruskal-Wallis (or the plan's Mann-Whitney), exact p where needed, effects."""
    from scipy import stats as scipy_stats

    kw = kruskal_wallis(per_condition)
    chosen = dict(settings.tests.get(key, {}))
    name, alternative = chosen.get("test", "kruskal_wallis"), chosen.get("alternative", "two-sided")
    tested = [c for c, values in per_condition.items() if len(values)]
    test: dict[str, Any] = {
        "name": name, "alternative": alternative, "status": kw.status, "message": kw.message, "H": kw.h,
        "df": kw.df, "N": kw.n_total, "U": None, "p": kw.p, "p_asymptotic": kw.p, "p_method": "asymptotic",
        "exact": None, "p_adjusted": None, "correction": None, "family_size": 0,
        "epsilon_squared": kw.epsilon_squared, "epsilon_squared_ci": None, "eta_squared_h": kw.eta_squared_h,
        "two_groups": None, "significant": False,
        "warnings": [w for w in kw.warnings if "approximation is poor" not in w],
    }
    if kw.n_total == 0:
        test.update(status=NO_ANSWERS, message=f"No test possible: item {key!r} has no answers.")
    if not kw.ok:
        test["apa"] = format_kruskal_apa(None, None, kw.n_total, None)
        return test
    groups = [per_condition[c] for c in tested]
    if name == "mann_whitney":
        if len(tested) != 2:
            raise AnalysisInputError(f"Item {key!r}: the Mann-Whitney test needs exactly two conditions with "
                                     f"answers, not {len(tested)}.")
        mw = scipy_stats.mannwhitneyu(groups[0], groups[1], alternative=alternative, use_continuity=True,
                                      method="asymptotic")
        test.update(U=float(mw.statistic), p=float(mw.pvalue), p_asymptotic=float(mw.pvalue))
    small = sorted(c for c in tested if len(per_condition[c]) < settings.min_group_size)
    if small or settings.exact == "always":
        exact = permutation_pvalue(groups, test=name, alternative=alternative, resamples=settings.resamples,
                                   seed=settings.seed)
        test.update(p=exact["p"], p_method=exact["method"], exact=exact)
        why = (f"fewer than {settings.min_group_size} answers in {', '.join(small)}" if small
               else "the plan asks for exact p values")
        how = (f"exact (all {exact['assignments']} assignments)" if exact["method"] == "exact" else
               f"a permutation estimate ({exact['resamples']} resamples, seed {exact['seed']}, Monte-Carlo "
               f"error {exact['mc_error']:.4f})")
        test["warnings"].insert(0, f"p is {how}: {why}, where the asymptotic p ({test['p_asymptotic']:.4f}) "
                                   "is a poor approximation.")
    if name == "mann_whitney":
        test["apa"] = format_mann_whitney_apa(test["U"], len(groups[0]), len(groups[1]), test["p"], alternative)
    else:
        test["apa"] = format_kruskal_apa(kw.h, kw.df, kw.n_total, test["p"])
    if settings.intervals:
        test["epsilon_squared_ci"] = epsilon_squared_interval(
            groups, confidence=settings.confidence, resamples=settings.bootstrap_resamples, seed=settings.seed)
        if len(tested) == 2:
            test["two_groups"] = two_group_effects(groups[0], groups[1], first=tested[0], second=tested[1],
                                                   confidence=settings.confidence)
    return test


def analyze_items(
    *,
    items: Sequence[ItemSpec],
    conditions: Sequence[str],
    answers: Mapping[str, Mapping[str, Sequence[Any]]],
    correction: str = "bonferroni",
    alpha: float = 0.05,
    families: Mapping[str, Any] | None = None,
    posthoc: bool = True,
    settings: PValueSettings | None = None,
    scores: Mapping[str, Mapping[str, Any]] | None = None,
    missing: Mapping[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """Per item: Likert summary per condition, a test across conditions, correction per family.

    ``answers[item_key][condition]`` holds the raw answers (reverse-coded items are recoded here).
    ``scores`` adds scale scores ({key: {"text", "items", "values": {condition: [floats]}}}) tested and
    corrected like items; ``missing[key][condition]`` counts participants without an answer. A family
    given as {"items": [...], "correction": "..."} uses its own correction ("uncorrected" for one item).
    Returns the "items"/"scales"/"families" part of the documented JSON (docs/ANALYSIS_FORMAT.md). Items
    whose test is impossible keep p = None, are left out of their family's correction and are never
    significant; items without any answer are listed under "problems".
    """
    check_correction(correction)
    settings = settings or PValueSettings()
    if not 0.0 < float(alpha) < 1.0:
        raise AnalysisInputError(f"alpha must be between 0 and 1, not {alpha!r}.")
    if len(conditions) < 2:
        raise AnalysisInputError(
            f"An analysis across conditions needs at least two conditions; this study has {len(conditions)}."
        )
    if not items:
        raise AnalysisInputError("There are no Likert items to analyse.")
    scores = scores or {}
    missing = missing or {}
    family_of = item_families(items, families, extra_keys=list(scores))
    corrections = {
        str(name): members.get("correction", correction) if isinstance(members, Mapping) else correction
        for name, members in (families or {}).items()
    }
    rows: list[dict[str, Any]] = []
    values_of: dict[str, dict[str, list[float]]] = {}
    problems: list[str] = []
    for item in items:
        check_scale_points(item.scale_points)
        per_condition = item_values(item, conditions, answers.get(item.key, {}))
        test = _test(item.key, per_condition, settings)
        if test["status"] == NO_ANSWERS:
            problems.append(test["message"])
        summaries = {}
        kw_groups = kruskal_wallis(per_condition).groups
        for condition in conditions:
            summary = likert_summary(per_condition[condition], item.scale_points)
            summary["mean_rank"] = kw_groups[condition].mean_rank
            summary["n_missing"] = int(missing.get(item.key, {}).get(condition, 0))
            summaries[condition] = summary
        values_of[item.key] = per_condition
        rows.append({"key": item.key, "text": item.text, "group": item.group, "family": family_of[item.key],
                     "scale_points": item.scale_points, "reverse_coded": item.reverse_coded,
                     "conditions": summaries, "test": test, "posthoc": []})
    for key, score in scores.items():
        per_condition = {c: [float(v) for v in score["values"].get(c, [])] for c in conditions}
        test = _test(key, per_condition, settings)
        kw_groups = kruskal_wallis(per_condition).groups
        summaries = {}
        for condition in conditions:
            summary = _score_summary(per_condition[condition])
            summary["mean_rank"] = kw_groups[condition].mean_rank
            summary["n_missing"] = int(missing.get(key, {}).get(condition, 0))
            summaries[condition] = summary
        values_of[key] = per_condition
        rows.append({"key": key, "text": score.get("text", ""), "kind": "scale", "items": list(score["items"]),
                     "family": family_of[key], "conditions": summaries, "test": test, "posthoc": []})
    family_members: dict[str, list[str]] = {}
    for row in rows:
        family_members.setdefault(row["family"], []).append(row["key"])
    for family in family_members:
        method = corrections.get(family, correction)
        in_family = [r for r in rows if r["family"] == family]
        pvalues = [r["test"]["p"] if r["test"]["status"] == TestStatus.OK else None for r in in_family]
        adjusted = pvalues if method == UNCORRECTED else adjust_pvalues(pvalues, method=method)
        family_size = sum(1 for p in pvalues if p is not None)
        for row, p_adjusted in zip(in_family, adjusted, strict=True):
            test = row["test"]
            test.update(p_adjusted=p_adjusted, correction=method, family_size=family_size, alpha=float(alpha))
            test["significant"] = bool(test["status"] == TestStatus.OK and p_adjusted < alpha)
            test["apa_adjusted"] = format_kruskal_apa_adjusted(test["apa"], p_adjusted)
            test["apa_effects"] = format_effects_apa(test)
            test["apa_full"] = ", ".join(part for part in (test["apa_adjusted"], test["apa_effects"]) if part)
    for row in rows:
        values = values_of[row["key"]]
        if posthoc and row["test"]["significant"] and len([v for v in values.values() if v]) > 2:
            row["posthoc"] = dunn_posthoc(values, p_adjust=row["test"]["correction"]
                                          if row["test"]["correction"] != UNCORRECTED else "bonferroni")
    return {
        "correction": correction,
        "alpha": float(alpha),
        "conditions": list(conditions),
        "families": family_members,
        "family_corrections": {family: corrections.get(family, correction) for family in family_members},
        "items": [row for row in rows if row.get("kind") != "scale"],
        "scales": [row for row in rows if row.get("kind") == "scale"],
        "problems": problems,
    }
