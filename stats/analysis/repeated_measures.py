"""Within-subject ratings of explanation methods: the analysis of the CEM-MAF user study (no Django).

Luss et al., "Generating contrastive explanations with monotonic attribute functions"
(seeds/cem-maf-contrastive-explanations.txt, section 5 and Figure 3): every participant rates several
explanation methods over counterbalanced trials, once as "Explanation 1" (is it useful?) and once as
"Explanation 2" (how much does it add to the first?). The paper reports mean ratings with standard errors per
method and position; this module adds what a methodologist asks for on top:

- ``rating_summary``: mean, SD and standard error per question (position) and method (Figure 3);
- ``friedman_test``: Friedman's test across methods on each participant's mean rating per method, with the
  tie correction R's ``friedman.test`` applies, and Kendall's W as the effect size;
- ``wilcoxon_signed_rank``: the paired post-hoc test as R's ``wilcox.test(paired = TRUE)`` computes it
  (exact below 50 pairs without ties or zero differences, else the normal approximation with continuity
  correction and tie-corrected variance; zero differences dropped);
- ``repeated_measures_analysis``: both tests per question with the post-hoc pairs corrected per question;
- ``mixed_model``: a linear mixed model with crossed random intercepts for participant and image
  (statsmodels MixedLM with variance components) as the effect estimate that uses every single rating;
- ``method_position_figure``: the Figure 3 bar chart (matplotlib, imported when drawn).
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError, to_float
from .corrections import adjust_pvalues, check_correction

#: Below this many non-zero pairs without ties the Wilcoxon p-value is exact (R's default rule).
EXACT_WILCOXON_LIMIT = 50


@dataclass(frozen=True)
class Rating:
    """One answer: ``participant`` rated ``method`` shown on ``image`` at ``position`` for ``question``."""

    participant: str
    image: str
    method: str
    question: str
    position: int
    value: float


def _check_ratings(ratings: Sequence[Rating], methods: Sequence[str]) -> None:
    if len(set(methods)) != len(methods) or len(methods) < 2:
        raise AnalysisInputError("Give at least two distinct methods.")
    known = set(methods)
    for rating in ratings:
        if rating.method not in known:
            raise AnalysisInputError(f"Rating of unknown method {rating.method!r}; methods are {', '.join(methods)}.")
        to_float(rating.value, label=f"rating of {rating.method}")


def _mean_sd_se(values: Sequence[float]) -> dict[str, float | int | None]:
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "se": None}
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1)) if n > 1 else None
    return {"n": n, "mean": float(array.mean()), "sd": sd, "se": None if sd is None else sd / math.sqrt(n)}


def rating_summary(ratings: Sequence[Rating], *, methods: Sequence[str], questions: Sequence[str]
                   ) -> list[dict[str, Any]]:
    """Mean, SD and standard error of the ratings per question and method (the bars of Figure 3)."""
    _check_ratings(ratings, methods)
    grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
    positions: dict[str, int] = {}
    for rating in ratings:
        grouped[(rating.question, rating.method)].append(float(rating.value))
        positions.setdefault(rating.question, rating.position)
    return [
        {"question": question, "position": positions.get(question), "method": method,
         **_mean_sd_se(grouped.get((question, method), []))}
        for question in questions for method in methods
    ]


def participant_means(ratings: Sequence[Rating], *, question: str, methods: Sequence[str]
                      ) -> tuple[list[str], np.ndarray, int]:
    """(participants, n × k matrix of each participant's mean rating per method, incomplete blocks dropped).

    A participant enters the Friedman test only with a rating of every method (a complete block).
    """
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for rating in ratings:
        if rating.question == question:
            per[rating.participant][rating.method].append(float(rating.value))
    participants, rows, dropped = [], [], 0
    for participant in sorted(per):
        by_method = per[participant]
        if all(by_method.get(method) for method in methods):
            participants.append(participant)
            rows.append([float(np.mean(by_method[method])) for method in methods])
        else:
            dropped += 1
    matrix = np.asarray(rows, dtype=float).reshape(len(rows), len(methods))
    return participants, matrix, dropped


def _rank_rows(matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """Mid-ranks within each row and the tie term sum(t^3 - t) over all rows."""
    from scipy.stats import rankdata

    ranks = np.vstack([rankdata(row) for row in matrix]) if len(matrix) else np.empty_like(matrix)
    ties = 0.0
    for row in matrix:
        _, counts = np.unique(row, return_counts=True)
        ties += float(np.sum(counts.astype(float) ** 3 - counts))
    return ranks, ties


def friedman_test(matrix: np.ndarray | Sequence[Sequence[float]]) -> dict[str, Any]:
    """Friedman's chi-squared for n blocks (rows) × k treatments (columns), as R's ``friedman.test``.

    chi² = 12 Σ_j (R_j − n(k+1)/2)² / (n k (k+1) − Σ(t³ − t)/(k − 1)), df = k − 1 (Hollander & Wolfe
    1973, section 7.1). Kendall's W = chi² / (n (k − 1)). Returns status "not_testable" with a message when
    there are fewer than two blocks or every block is one tie.
    """
    from scipy.stats import chi2

    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2 or data.shape[1] < 2:
        raise AnalysisInputError("The Friedman test needs a blocks × treatments matrix with at least two columns.")
    if not np.all(np.isfinite(data)):
        raise AnalysisInputError("The Friedman test needs finite values in every cell.")
    n, k = data.shape
    result: dict[str, Any] = {"test": "friedman", "n": n, "k": k, "df": k - 1, "statistic": None, "p": None,
                              "kendalls_w": None, "status": "ok", "message": ""}
    if n < 2:
        return {**result, "status": "not_testable",
                "message": f"Needs at least two participants who rated every method (has {n})."}
    ranks, ties = _rank_rows(data)
    denominator = n * k * (k + 1) - ties / (k - 1)
    if denominator <= 0:
        return {**result, "status": "not_testable", "message": "Every participant gave all methods the same rating."}
    rank_sums = ranks.sum(axis=0)
    statistic = float(12.0 * np.sum((rank_sums - n * (k + 1) / 2.0) ** 2) / denominator)
    return {**result, "statistic": statistic, "p": float(chi2.sf(statistic, k - 1)),
            "kendalls_w": statistic / (n * (k - 1)), "mean_ranks": [float(v) for v in ranks.mean(axis=0)]}


def wilcoxon_signed_rank(x: Sequence[float], y: Sequence[float], *, alternative: str = "two-sided"
                         ) -> dict[str, Any]:
    """Paired Wilcoxon signed-rank test of x − y as R's ``wilcox.test(x, y, paired = TRUE)`` computes it.

    V is the sum of the ranks of the positive differences. Zero differences are dropped (Wilcoxon's rule,
    R's default). With fewer than 50 remaining pairs and no ties the p-value is exact; otherwise the normal
    approximation with continuity correction and the tie-corrected variance
    n(n+1)(2n+1)/24 − Σ(t³ − t)/48. The effect size is the matched-pairs rank-biserial correlation
    (V − (S − V)) / S with S = n(n+1)/2.
    """
    from scipy.stats import norm, rankdata
    from scipy.stats import wilcoxon as scipy_wilcoxon

    if alternative not in ("two-sided", "greater", "less"):
        raise AnalysisInputError(f"Unknown alternative {alternative!r}; use two-sided, greater or less.")
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise AnalysisInputError("The paired Wilcoxon test needs two samples of equal length.")
    differences = a - b
    differences = differences[differences != 0]
    n = len(differences)
    base = {"test": "wilcoxon_signed_rank", "n": n, "statistic": None, "p": None, "method": None,
            "rank_biserial": None, "status": "ok", "message": ""}
    if n == 0:
        return {**base, "status": "not_testable", "message": "Every pair has the same rating."}
    ranks = rankdata(np.abs(differences))
    v = float(ranks[differences > 0].sum())
    total = n * (n + 1) / 2.0
    _, tie_counts = np.unique(np.abs(differences), return_counts=True)
    has_ties = bool(np.any(tie_counts > 1))
    if n < EXACT_WILCOXON_LIMIT and not has_ties:
        p = float(scipy_wilcoxon(differences, alternative=alternative, method="exact").pvalue)
        method = "exact"
    else:
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0 - float(np.sum(tie_counts ** 3 - tie_counts)) / 48.0)
        z = v - n * (n + 1) / 4.0
        correction = {"two-sided": math.copysign(0.5, z) if z else 0.0, "greater": 0.5, "less": -0.5}[alternative]
        z = (z - correction) / sigma if sigma > 0 else 0.0
        if alternative == "two-sided":
            p = float(2 * min(norm.cdf(z), norm.sf(z)))
        else:
            p = float(norm.sf(z) if alternative == "greater" else norm.cdf(z))
        method = "normal approximation with continuity correction"
    return {**base, "statistic": v, "p": min(p, 1.0), "method": method, "rank_biserial": (2 * v - total) / total}


def repeated_measures_analysis(ratings: Sequence[Rating], *, methods: Sequence[str], questions: Sequence[str],
                               correction: str = "bonferroni", alpha: float = 0.05) -> dict[str, Any]:
    """Summary, Friedman per question and Wilcoxon post-hoc pairs (corrected over the question's pairs)."""
    check_correction(correction)
    _check_ratings(ratings, methods)
    tests = []
    for question in questions:
        participants, matrix, dropped = participant_means(ratings, question=question, methods=methods)
        friedman = friedman_test(matrix)
        friedman["significant"] = friedman["p"] is not None and friedman["p"] < alpha
        pairs = []
        for i, j in itertools.combinations(range(len(methods)), 2):
            pair = wilcoxon_signed_rank(matrix[:, i], matrix[:, j]) if len(matrix) else \
                {"test": "wilcoxon_signed_rank", "n": 0, "statistic": None, "p": None, "method": None,
                 "rank_biserial": None, "status": "not_testable", "message": "No complete participants."}
            pairs.append({"first": methods[i], "second": methods[j], **pair})
        adjusted = adjust_pvalues([pair["p"] for pair in pairs], correction)
        for pair, p_adjusted in zip(pairs, adjusted, strict=True):
            pair["p_adjusted"] = p_adjusted
            pair["significant"] = p_adjusted is not None and p_adjusted < alpha
        tests.append({"question": question, "participants": len(participants), "incomplete_dropped": dropped,
                      "friedman": friedman, "posthoc": pairs, "correction": correction})
    return {"methods": list(methods), "questions": list(questions), "alpha": alpha, "correction": correction,
            "summary": rating_summary(ratings, methods=methods, questions=questions), "tests": tests}


def mixed_model(ratings: Sequence[Rating], *, question: str, methods: Sequence[str]) -> dict[str, Any]:
    """Linear mixed model rating ~ method with crossed random intercepts for participant and image.

    statsmodels' MixedLM takes crossed random effects as variance components within one all-encompassing
    group (its documented idiom). The first method is the reference level: each other method's coefficient
    is its mean difference to the reference with a Wald 95 % interval. Returns status "failed" with the
    reason where the model cannot be fitted (too little data, a singular design).
    """
    import pandas as pd
    import statsmodels.formula.api as smf

    rows = [r for r in ratings if r.question == question]
    base = {"question": question, "reference": methods[0], "n_ratings": len(rows),
            "n_participants": len({r.participant for r in rows}), "n_images": len({r.image for r in rows})}
    if base["n_participants"] < 2 or len({r.method for r in rows}) < 2:
        return {**base, "status": "failed", "message": "Needs ratings of at least two methods by two participants."}
    frame = pd.DataFrame({
        "rating": [float(r.value) for r in rows],
        "method": pd.Categorical([r.method for r in rows], categories=list(methods)),
        "participant": [str(r.participant) for r in rows], "image": [str(r.image) for r in rows],
        "group": 1,
    })
    model = smf.mixedlm("rating ~ C(method)", frame, groups="group", re_formula="0",
                        vc_formula={"participant": "0 + C(participant)", "image": "0 + C(image)"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(reml=True, method=["lbfgs", "powell"])
        except (ValueError, np.linalg.LinAlgError) as error:
            return {**base, "status": "failed", "message": f"The model could not be fitted: {error}"}
    intervals = fit.conf_int()
    effects = []
    for method in methods[1:]:
        name = f"C(method)[T.{method}]"
        if name in fit.fe_params.index:
            effects.append({"method": method, "difference": float(fit.fe_params[name]),
                            "se": float(fit.bse_fe[name]), "ci_low": float(intervals.loc[name, 0]),
                            "ci_high": float(intervals.loc[name, 1]), "p": float(fit.pvalues[name])})
    variance = dict(zip(model.exog_vc.names, (float(v) for v in fit.vcomp), strict=True))
    return {**base, "status": "ok", "message": "; ".join(sorted({str(w.message)[:200] for w in caught})),
            "converged": bool(fit.converged), "intercept": float(fit.fe_params["Intercept"]),
            "effects": effects, "variance_participant": variance.get("participant"),
            "variance_image": variance.get("image"), "variance_residual": float(fit.scale)}


def method_position_figure(summary: Sequence[dict[str, Any]], *, methods: Sequence[str],
                           questions: Sequence[str], titles: dict[str, str] | None = None,
                           method_names: dict[str, str] | None = None, fmt: str = "svg") -> bytes:
    """Figure 3 of the paper: one panel per question, a bar per method (mean) with standard-error bars."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    titles, method_names = titles or {}, method_names or {}
    figure = Figure(figsize=(4.2 * len(questions), 3.4), layout="constrained")
    axes = figure.subplots(1, len(questions), squeeze=False)[0]
    cells = {(row["question"], row["method"]): row for row in summary}
    for axis, question in zip(axes, questions, strict=True):
        means = [cells.get((question, m), {}).get("mean") for m in methods]
        errors = [cells.get((question, m), {}).get("se") or 0.0 for m in methods]
        axis.bar(range(len(methods)), [0.0 if v is None else v for v in means], yerr=errors, capsize=4,
                 color="#4c78a8")
        axis.set_xticks(range(len(methods)), [method_names.get(m, m) for m in methods], rotation=15)
        axis.set_title(titles.get(question, question), fontsize=10)
        axis.set_ylabel("Mean rating (± SE)")
        axis.set_ylim(0, 5.5)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt)
    return buffer.getvalue()
