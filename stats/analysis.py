"""Pure analysis functions for Likert user studies (no Django).

The procedure follows the human-subject study of the seed paper on ideal counterfactuals from
invertible networks (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3 and appendix E): per statement a Kruskal-Wallis test across conditions, Bonferroni correction
over the statements of a family, effect sizes, and the share of participants who disagree (1-3), are
neutral (4) or agree (5-7) on a 7-point scale (its Figure 4).

Degenerate data are reported through ``status`` instead of numbers: scipy 1.17 returns ``H = inf, p = 0``
for some all-identical inputs and silently propagates NaN, and a platform that passed either on would
print a false "highly significant" result (reference/stats-reference-notes.md, "Pitfalls").
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

CORRECTION_METHODS = ("bonferroni", "holm", "fdr_bh")
SMALL_GROUP_SIZE = 5


class AnalysisInputError(ValueError):
    """Input that cannot be analysed at all (non-numeric answers, unknown options)."""


class TestStatus:
    """Why a test was or was not computed; stable strings used in the JSON results."""

    OK = "ok"
    NO_VARIANCE = "no_variance"
    TOO_FEW_GROUPS = "too_few_groups"
    MISSING_VALUES = "missing_values"

    MESSAGES = {
        OK: "",
        NO_VARIANCE: "No test possible: every response is identical (no variance).",
        TOO_FEW_GROUPS: "No test possible: fewer than two conditions have responses.",
        MISSING_VALUES: "No test possible: missing values present (drop them explicitly with missing='drop').",
    }


# --------------------------------------------------------------------------------------------------
# Input cleaning
# --------------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _to_float(value: Any, *, label: str) -> float:
    if isinstance(value, bool):
        raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.") from None
    else:
        raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.")
    if math.isinf(number):
        raise AnalysisInputError(f"{label}: infinite value {value!r} is not a response.")
    return number


def clean_values(values: Iterable[Any], *, label: str = "values") -> tuple[np.ndarray, int]:
    """Numeric array of the non-missing values and the number of missing ones.

    None, NaN and empty strings count as missing; anything else that is not a finite number raises
    AnalysisInputError naming the offending value.
    """
    kept: list[float] = []
    missing = 0
    for value in values:
        if _is_missing(value):
            missing += 1
            continue
        kept.append(_to_float(value, label=label))
    return np.asarray(kept, dtype=float), missing


# --------------------------------------------------------------------------------------------------
# Kruskal-Wallis
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupSummary:
    n: int
    n_missing: int
    mean_rank: float | None
    median: float | None
    q1: float | None
    q3: float | None
    iqr: float | None
    mean: float | None


@dataclass(frozen=True)
class KruskalResult:
    status: str
    message: str
    h: float | None
    df: int | None
    p: float | None
    n_total: int
    groups: dict[str, GroupSummary]
    epsilon_squared: float | None
    eta_squared_h: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == TestStatus.OK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    # R's default (type 7) quantiles, which numpy's "linear" method also implements.
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return float(median), float(q1), float(q3)


def _summaries(clean: Mapping[str, np.ndarray], missing: Mapping[str, int], ranks: Mapping[str, float]):
    summaries = {}
    for name, values in clean.items():
        if values.size == 0:
            summaries[name] = GroupSummary(0, missing[name], None, None, None, None, None, None)
            continue
        median, q1, q3 = _quartiles(values)
        summaries[name] = GroupSummary(
            n=int(values.size),
            n_missing=int(missing[name]),
            mean_rank=ranks.get(name),
            median=median,
            q1=q1,
            q3=q3,
            iqr=q3 - q1,
            mean=float(values.mean()),
        )
    return summaries


def kruskal_wallis(groups: Mapping[str, Sequence[Any]], *, missing: str = "reject") -> KruskalResult:
    """Kruskal-Wallis H test across groups, with effect sizes and per-group summaries.

    H = 12/(N(N+1)) sum R_i^2/n_i - 3(N+1), divided by the tie correction 1 - sum(t^3-t)/(N^3-N); p from
    the chi-square distribution with k-1 degrees of freedom (as scipy.stats.kruskal and R kruskal.test).
    Effect sizes: epsilon^2 = H/(N-1) (Tomczak & Tomczak 2014) and eta^2_H = (H-k+1)/(N-k) floored at 0.

    ``missing``: "reject" (default) gives status "missing_values" when any answer is missing, "drop" drops
    missing answers and counts them per group. Non-numeric answers raise AnalysisInputError.
    Groups with no responses are reported (n = 0) but take no part in the test.
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    if missing not in ("reject", "drop"):
        raise AnalysisInputError(f"missing must be 'reject' or 'drop', not {missing!r}.")
    clean: dict[str, np.ndarray] = {}
    missing_counts: dict[str, int] = {}
    for name, values in groups.items():
        clean[str(name)], missing_counts[str(name)] = clean_values(values, label=f"group {name!r}")

    def no_test(status: str, message: str | None = None) -> KruskalResult:
        return KruskalResult(
            status=status,
            message=message or TestStatus.MESSAGES[status],
            h=None,
            df=None,
            p=None,
            n_total=int(sum(v.size for v in clean.values())),
            groups=_summaries(clean, missing_counts, {}),
            epsilon_squared=None,
            eta_squared_h=None,
        )

    total_missing = sum(missing_counts.values())
    if total_missing and missing == "reject":
        return no_test(
            TestStatus.MISSING_VALUES,
            f"No test possible: {total_missing} missing value(s); drop them explicitly with missing='drop'.",
        )
    tested = {name: values for name, values in clean.items() if values.size > 0}
    if len(tested) < 2:
        return no_test(TestStatus.TOO_FEW_GROUPS)
    pooled = np.concatenate(list(tested.values()))
    if np.all(pooled == pooled[0]):
        return no_test(TestStatus.NO_VARIANCE)

    n_total = int(pooled.size)
    k = len(tested)
    ranks = scipy_stats.rankdata(pooled)
    mean_ranks: dict[str, float] = {}
    rank_term = 0.0
    start = 0
    for name, values in tested.items():
        group_ranks = ranks[start : start + values.size]
        start += values.size
        mean_ranks[name] = float(group_ranks.mean())
        rank_term += group_ranks.sum() ** 2 / values.size
    h_uncorrected = 12.0 / (n_total * (n_total + 1)) * rank_term - 3.0 * (n_total + 1)
    _, tie_counts = np.unique(pooled, return_counts=True)
    tie_correction = 1.0 - float(np.sum(tie_counts**3 - tie_counts)) / (n_total**3 - n_total)
    h = float(h_uncorrected / tie_correction)
    df = k - 1
    p = float(scipy_stats.chi2.sf(h, df))
    if not (math.isfinite(h) and math.isfinite(p)):  # pragma: no cover - guarded by the checks above
        return no_test(TestStatus.NO_VARIANCE)

    eta_squared_h = max(0.0, (h - k + 1) / (n_total - k)) if n_total > k else None
    warnings = []
    small = sorted(name for name, values in tested.items() if values.size < SMALL_GROUP_SIZE)
    if small:
        warnings.append(
            "Fewer than 5 responses in " + ", ".join(small) + ": the chi-square approximation is poor."
        )
    empty = sorted(name for name, values in clean.items() if values.size == 0)
    if empty:
        warnings.append("No responses in " + ", ".join(empty) + ": left out of the test.")
    if total_missing:
        warnings.append(f"{total_missing} missing value(s) dropped.")
    return KruskalResult(
        status=TestStatus.OK,
        message="",
        h=h,
        df=df,
        p=p,
        n_total=n_total,
        groups=_summaries(clean, missing_counts, mean_ranks),
        epsilon_squared=h / (n_total - 1),
        eta_squared_h=eta_squared_h,
        warnings=warnings,
    )


# --------------------------------------------------------------------------------------------------
# Multiple comparisons
# --------------------------------------------------------------------------------------------------
def check_correction(method: str) -> str:
    if method not in CORRECTION_METHODS:
        raise AnalysisInputError(
            f"Unknown correction method {method!r}; choose one of: {', '.join(CORRECTION_METHODS)}."
        )
    return method


def adjust_pvalues(pvalues: Sequence[float | None], method: str = "bonferroni") -> list[float | None]:
    """Adjusted p-values in input order via statsmodels ``multipletests``.

    Missing p-values (None or NaN, e.g. items with no test) are left out of the family - they neither
    count towards m nor poison the FDR ranking - and come back as None. ``method`` is passed explicitly:
    statsmodels' default is Holm-Sidak, not Bonferroni.
    """
    from statsmodels.stats.multitest import multipletests

    check_correction(method)
    positions: list[int] = []
    finite: list[float] = []
    for index, value in enumerate(pvalues):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        number = _to_float(value, label="p-value")
        if not 0.0 <= number <= 1.0:
            raise AnalysisInputError(f"p-value {value!r} is outside [0, 1].")
        positions.append(index)
        finite.append(number)
    adjusted: list[float | None] = [None] * len(pvalues)
    if not finite:
        return adjusted
    _, corrected, _, _ = multipletests(finite, method=method)
    for index, value in zip(positions, corrected, strict=True):
        adjusted[index] = float(min(1.0, value))
    return adjusted


def dunn_posthoc(
    groups: Mapping[str, Sequence[Any]], *, p_adjust: str = "bonferroni"
) -> list[dict[str, Any]]:
    """Dunn's pairwise test (two-sided) after a Kruskal-Wallis test, via scikit_posthocs.posthoc_dunn.

    With more than two groups the pairwise p-values are adjusted with ``p_adjust`` over the k(k-1)/2
    comparisons; with two groups there is one comparison and p_adjusted equals p.
    Returns one dict per pair: {"a", "b", "p", "p_adjusted"}.
    """
    import pandas as pd
    import scikit_posthocs

    check_correction(p_adjust)
    rows = []
    for name, values in groups.items():
        clean, _ = clean_values(values, label=f"group {name!r}")
        rows.extend((str(name), value) for value in clean)
    frame = pd.DataFrame(rows, columns=["group", "value"])
    names = [str(name) for name in groups if (frame["group"] == str(name)).any()]
    if len(names) < 2 or frame["value"].nunique() < 2:
        return []
    raw = scikit_posthocs.posthoc_dunn(frame, val_col="value", group_col="group")
    adjusted = (
        scikit_posthocs.posthoc_dunn(frame, val_col="value", group_col="group", p_adjust=p_adjust)
        if len(names) > 2
        else raw
    )
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            pairs.append(
                {"a": a, "b": b, "p": float(raw.loc[a, b]), "p_adjusted": float(adjusted.loc[a, b])}
            )
    return pairs


# --------------------------------------------------------------------------------------------------
# Likert summaries
# --------------------------------------------------------------------------------------------------
def check_scale_points(scale_points: int) -> int:
    if isinstance(scale_points, bool) or not isinstance(scale_points, int):
        raise AnalysisInputError(f"scale_points must be an odd integer, not {scale_points!r}.")
    if scale_points < 3 or scale_points % 2 == 0:
        raise AnalysisInputError(f"scale_points must be an odd integer of at least 3, not {scale_points}.")
    return scale_points


def reverse_code(values: Iterable[float], scale_points: int) -> list[float]:
    """Recode a reverse-keyed item so that higher always means more agreement: v -> points + 1 - v."""
    check_scale_points(scale_points)
    return [scale_points + 1 - value for value in values]


def likert_values(values: Iterable[Any], scale_points: int, *, label: str = "values") -> np.ndarray:
    """Validated integer Likert answers 1..scale_points (missing values dropped)."""
    check_scale_points(scale_points)
    clean, _ = clean_values(values, label=label)
    bad = clean[(clean != np.round(clean)) | (clean < 1) | (clean > scale_points)]
    if bad.size:
        raise AnalysisInputError(
            f"{label}: {bad[0]:g} is not a point of the 1..{scale_points} scale."
        )
    return clean.astype(int)


def likert_summary(values: Iterable[Any], scale_points: int = 7, *, label: str = "values") -> dict[str, Any]:
    """Counts per scale point, % disagree / neutral / agree, median, IQR and mean.

    For an odd scale of 2m+1 points, 1..m is disagreement, m+1 neutral and m+2..2m+1 agreement
    (7 points: 1-3 / 4 / 5-7, as the seed's Figure 4). Percentages are of the non-missing answers.
    """
    answers = likert_values(values, scale_points, label=label)
    neutral = (scale_points + 1) // 2
    counts = np.bincount(answers, minlength=scale_points + 1)[1:]
    n = int(answers.size)
    if n == 0:
        return {
            "n": 0, "counts": [0] * scale_points, "percentages": [None] * scale_points,
            "pct_disagree": None, "pct_neutral": None, "pct_agree": None,
            "median": None, "q1": None, "q3": None, "iqr": None, "mean": None,
        }
    median, q1, q3 = _quartiles(answers.astype(float))
    return {
        "n": n,
        "counts": [int(c) for c in counts],
        "percentages": [100.0 * float(c) / n for c in counts],
        "pct_disagree": 100.0 * float(counts[: neutral - 1].sum()) / n,
        "pct_neutral": 100.0 * float(counts[neutral - 1]) / n,
        "pct_agree": 100.0 * float(counts[neutral:].sum()) / n,
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "mean": float(answers.mean()),
    }


# --------------------------------------------------------------------------------------------------
# APA formatting
# --------------------------------------------------------------------------------------------------
def format_p(p: float | None) -> str:
    """APA style: no leading zero, three decimals, "< .001" below that."""
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< .001"
    text = f"{p:.3f}"
    return text[1:] if text.startswith("0") else text


def format_effect(value: float | None) -> str:
    if value is None:
        return "n/a"
    text = f"{value:.2f}"
    return text[1:] if text.startswith("0") else text


def format_kruskal_apa(h: float | None, df: int | None, n: int, p: float | None) -> str:
    """E.g. "H(2, N = 90) = 7.10, p = .029"."""
    if h is None or df is None:
        return "no test"
    p_text = format_p(p)
    relation = "p " + p_text if p_text.startswith("<") else f"p = {p_text}"
    return f"H({df}, N = {n}) = {h:.2f}, {relation}"


# --------------------------------------------------------------------------------------------------
# A whole questionnaire: every Likert item across conditions, corrected per family
# --------------------------------------------------------------------------------------------------
NO_ANSWERS = "no_answers"


@dataclass(frozen=True)
class ItemSpec:
    """What the analysis needs to know about one Likert item."""

    key: str
    text: str = ""
    group: str = ""
    scale_points: int = 7
    reverse_coded: bool = False


def item_families(
    items: Sequence[ItemSpec], families: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """Family of each item: an explicit {family: [item keys]} mapping, otherwise the item's group.

    The default makes the seed's six pattern statements one Bonferroni family and the satisfaction items
    another (its section 3.3).
    """
    keys = {item.key for item in items}
    assigned: dict[str, str] = {}
    for family, members in (families or {}).items():
        for key in members:
            if key not in keys:
                raise AnalysisInputError(f"Family {family!r} names unknown item {key!r}.")
            if key in assigned:
                raise AnalysisInputError(f"Item {key!r} is in two families ({assigned[key]!r}, {family!r}).")
            assigned[key] = str(family)
    return {item.key: assigned.get(item.key, item.group or "default") for item in items}


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


def analyze_items(
    *,
    items: Sequence[ItemSpec],
    conditions: Sequence[str],
    answers: Mapping[str, Mapping[str, Sequence[Any]]],
    correction: str = "bonferroni",
    alpha: float = 0.05,
    families: Mapping[str, Sequence[str]] | None = None,
    posthoc: bool = True,
) -> dict[str, Any]:
    """Per item: Likert summary per condition, Kruskal-Wallis across conditions, correction per family.

    ``answers[item_key][condition]`` holds the raw answers (reverse-coded items are recoded here).
    Returns the "items"/"families" part of the documented JSON (docs/ANALYSIS_FORMAT.md). Items whose
    test is impossible keep p = None, are left out of their family's correction and are never
    significant; items without any answer are listed under "problems".
    """
    check_correction(correction)
    if not 0.0 < float(alpha) < 1.0:
        raise AnalysisInputError(f"alpha must be between 0 and 1, not {alpha!r}.")
    if len(conditions) < 2:
        raise AnalysisInputError(
            f"An analysis across conditions needs at least two conditions; this study has {len(conditions)}."
        )
    if not items:
        raise AnalysisInputError("There are no Likert items to analyse.")
    family_of = item_families(items, families)
    results: list[dict[str, Any]] = []
    problems: list[str] = []
    for item in items:
        check_scale_points(item.scale_points)
        per_condition = item_values(item, conditions, answers.get(item.key, {}))
        kw = kruskal_wallis(per_condition)
        status, message = kw.status, kw.message
        if kw.n_total == 0:
            status, message = NO_ANSWERS, f"No test possible: item {item.key!r} has no answers."
            problems.append(message)
        summaries = {}
        for condition in conditions:
            summary = likert_summary(per_condition[condition], item.scale_points)
            summary["mean_rank"] = kw.groups[condition].mean_rank
            summaries[condition] = summary
        results.append(
            {
                "key": item.key,
                "text": item.text,
                "group": item.group,
                "family": family_of[item.key],
                "scale_points": item.scale_points,
                "reverse_coded": item.reverse_coded,
                "conditions": summaries,
                "test": {
                    "name": "kruskal_wallis",
                    "status": status,
                    "message": message,
                    "H": kw.h,
                    "df": kw.df,
                    "N": kw.n_total,
                    "p": kw.p,
                    "p_adjusted": None,
                    "correction": correction,
                    "family_size": 0,
                    "epsilon_squared": kw.epsilon_squared,
                    "eta_squared_h": kw.eta_squared_h,
                    "significant": False,
                    "apa": format_kruskal_apa(kw.h, kw.df, kw.n_total, kw.p),
                    "warnings": list(kw.warnings),
                },
                "posthoc": [],
                "_values": per_condition,
            }
        )
    family_members: dict[str, list[str]] = {}
    for result in results:
        family_members.setdefault(result["family"], []).append(result["key"])
    for family, members in family_members.items():
        in_family = [r for r in results if r["family"] == family]
        adjusted = adjust_pvalues([r["test"]["p"] for r in in_family], method=correction)
        family_size = sum(1 for r in in_family if r["test"]["p"] is not None)
        for result, p_adjusted in zip(in_family, adjusted, strict=True):
            test = result["test"]
            test["p_adjusted"] = p_adjusted
            test["family_size"] = family_size
            test["significant"] = bool(test["status"] == TestStatus.OK and p_adjusted < alpha)
            if p_adjusted is not None:
                test["apa_adjusted"] = (
                    f"{test['apa']}, p_adj = {format_p(p_adjusted)}"
                    if not format_p(p_adjusted).startswith("<")
                    else f"{test['apa']}, p_adj {format_p(p_adjusted)}"
                )
            else:
                test["apa_adjusted"] = test["apa"]
    for result in results:
        values = result.pop("_values")
        if posthoc and result["test"]["significant"] and len([v for v in values.values() if v]) > 2:
            result["posthoc"] = dunn_posthoc(values, p_adjust=correction)
    return {
        "correction": correction,
        "alpha": float(alpha),
        "conditions": list(conditions),
        "families": family_members,
        "items": results,
        "problems": problems,
    }


# --------------------------------------------------------------------------------------------------
# Preregistered hypotheses
# --------------------------------------------------------------------------------------------------
HYPOTHESIS_KINDS = ("proportion_agree", "condition_greater")
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


def evaluate_hypothesis(
    kind: str,
    parameters: Mapping[str, Any],
    *,
    values: Mapping[str, Mapping[str, Sequence[float]]],
    scale_points: Mapping[str, int],
) -> dict[str, Any]:
    """Verdict of one hypothesis on the (recoded) answers ``values[item][condition]``.

    Returns {"verdict": confirmed|rejected|not_evaluable, "statement": why, plus the figures used}.
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    params = validate_hypothesis(kind, parameters)
    item = params["item"]
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
