"""The analysis of a trials study (Luss et al., section 5 and Figure 3), from the stored trials.

Ratings come from the participants who count (completed, real unless simulated ones are asked for); the
numbers come from the pure functions of stats.analysis.repeated_measures: mean ± SE per method and position,
Friedman across methods per question with Wilcoxon signed-rank post-hoc pairs under the chosen correction, and
a mixed model with participant and image random intercepts as the effect estimate.
"""
from __future__ import annotations

import base64
from typing import Any

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.repeated_measures import Rating, mixed_model, repeated_measures_analysis
from studies.designs.common.analysis import data_hash, participants_included
from studies.models import Participant, Study

from .models import Trial, TrialMethod, TrialRating, TrialSetup

QUESTIONS = (TrialRating.FIRST.value, TrialRating.SECOND.value)


def trials_analyse(*, study: Study, include_simulated: bool = False, correction: str = "bonferroni",
                   alpha: float = 0.05) -> dict[str, Any]:
    """The study's results as a JSON-ready dict (docs/ANALYSIS_FORMAT.md, "Within-subject trials studies").

    Raises AnalysisInputError when there is nothing to analyse (no methods, nobody left after exclusions).
    """
    methods = list(TrialMethod.objects.filter(study=study))
    if len(methods) < 2:
        raise AnalysisInputError(f"Study {study.slug!r} has {len(methods)} method(s); compare at least two.")
    setup = TrialSetup.objects.filter(study=study).first()
    participants = list(Participant.objects.filter(study=study, trial_session__isnull=False)
                        .values("pk", "status", "is_simulated", "excluded_reason"))
    included, exclusions = participants_included(participants, study=study, include_simulated=include_simulated)

    keys = [m.key for m in methods]
    ratings, rows = [], []
    trials = (Trial.objects.filter(participant_id__in=included, second_rating__isnull=False)
              .values_list("participant_id", "position", "pool_image__key", "first_method__key",
                           "second_method__key", "first_rating", "second_rating"))
    for participant, position, image, first, second, first_rating, second_rating in trials:
        ratings.append(Rating(str(participant), image, first, TrialRating.FIRST.value, 1, first_rating))
        ratings.append(Rating(str(participant), image, second, TrialRating.SECOND.value, 2, second_rating))
        rows.append([participant, position, image, first, second, first_rating, second_rating])
    result = repeated_measures_analysis(ratings, methods=keys, questions=QUESTIONS, correction=correction,
                                        alpha=alpha)
    return {
        "design": Study.Design.WITHIN_SUBJECT.value,
        "data_hash": data_hash({"methods": keys, "rows": sorted(rows)}),
        "participants_included": len(included),
        "exclusions": exclusions,
        "method_names": {m.key: m.name for m in methods},
        "question_texts": {TrialRating.FIRST.value: setup.first_question if setup else "",
                           TrialRating.SECOND.value: setup.second_question if setup else ""},
        "scale_points": {TrialRating.FIRST.value: setup.first_points if setup else None,
                         TrialRating.SECOND.value: setup.second_points if setup else None},
        "trials_analysed": len(rows),
        **result,
        "mixed_models": [mixed_model(ratings, question=question, methods=keys) for question in QUESTIONS],
        "problems": [f"{test['question']}: the Friedman test is not testable: {test['friedman']['message']}"
                     for test in result["tests"] if test["friedman"]["status"] != "ok"],
    }


FIGURE_TITLES = {TrialRating.FIRST.value: "Usefulness as Explanation 1",
                 TrialRating.SECOND.value: "Added value as Explanation 2"}


def trials_report_context(results: dict[str, Any]) -> dict[str, Any]:
    """Template context of the analysis page: the Figure 3 chart as an <img> data URI and the test rows."""
    from stats.analysis.repeated_measures import method_position_figure

    svg = method_position_figure(results["summary"], methods=results["methods"], questions=results["questions"],
                                 titles=FIGURE_TITLES, method_names=results.get("method_names"))
    names = results.get("method_names", {})
    return {
        "design_template": "trials/analysis_section.html",
        "trials_figure": "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii"),
        "trials_summary": [{**row, "name": names.get(row["method"], row["method"]),
                            "title": FIGURE_TITLES.get(row["question"], row["question"])}
                           for row in results["summary"]],
        "trials_tests": [{**test, "title": FIGURE_TITLES.get(test["question"], test["question"])}
                         for test in results["tests"]],
        "trials_models": results.get("mixed_models", []),
    }


CSV_COLUMNS = ["question", "method", "n", "mean", "sd", "se", "friedman_chi2", "friedman_df", "friedman_p",
               "kendalls_w", "mixed_model_difference", "mixed_model_ci_low", "mixed_model_ci_high"]


def trials_csv_rows(results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per question and method: the Figure 3 bar, the question's Friedman test, the mixed-model effect."""
    tests = {test["question"]: test["friedman"] for test in results["tests"]}
    effects = {(model["question"], effect["method"]): effect for model in results.get("mixed_models", [])
               for effect in model.get("effects", [])}
    rows = []
    for row in results["summary"]:
        friedman = tests.get(row["question"], {})
        effect = effects.get((row["question"], row["method"]), {})
        rows.append({"question": row["question"], "method": row["method"], "n": row["n"], "mean": row["mean"],
                     "sd": row["sd"], "se": row["se"], "friedman_chi2": friedman.get("statistic"),
                     "friedman_df": friedman.get("df"), "friedman_p": friedman.get("p"),
                     "kendalls_w": friedman.get("kendalls_w"), "mixed_model_difference": effect.get("difference"),
                     "mixed_model_ci_low": effect.get("ci_low"), "mixed_model_ci_high": effect.get("ci_high")})
    return CSV_COLUMNS, rows
