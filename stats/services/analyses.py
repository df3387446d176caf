"""Running an analysis of a study: load its data, apply the exclusion rules, test, hash and store.

The analysis follows the seed study (seeds/invertibility-ideal-counterfactuals-user-study.txt, section
3.3 and appendix E): Kruskal-Wallis per statement across conditions, Bonferroni over each family of
statements, effect sizes, agree/neutral/disagree shares and the preregistered hypotheses with verdicts.
The numbers come from the pure functions in stats.analysis; this module loads the data, applies the
exclusion rules, hashes what it used and stores the result.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction

from studies.designs.registry import design_for
from studies.models import Item, Participant, Study

from .. import selectors
from ..analysis import (
    AnalysisInputError,
    ItemSpec,
    analyze_items,
    check_correction,
    evaluate_hypothesis,
    item_values,
)
from ..models import Analysis

FORMAT_VERSION = 1


class AnalysisError(ValueError):
    """The study cannot be analysed as asked; the message says why and what to do."""


EXCLUSION_REASONS = {
    "simulated": "simulated participant (use include_simulated to analyse them)",
    "incomplete": "did not complete the study",
    "failed_attention": "failed an attention check",
    "too_fast": "spent less than the minimum time on the stimulus page",
}


@dataclass(frozen=True)
class AnalysisParameters:
    """How an analysis is run; stored with every Analysis so it can be reproduced."""

    correction: str = "bonferroni"
    alpha: float = 0.05
    include_simulated: bool = False
    families: dict[str, list[str]] | None = None
    min_stimulus_seconds: float | None = None  # None: the study's own min_stimulus_seconds
    exclude_failed_attention: bool = True
    exclude_incomplete: bool = True
    posthoc: bool = True
    test: str = field(default="kruskal_wallis", init=False)

    def validated(self, *, study: Study) -> dict[str, Any]:
        try:
            check_correction(self.correction)
        except AnalysisInputError as error:
            raise AnalysisError(str(error)) from None
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise AnalysisError(f"alpha must be a number between 0 and 1, not {self.alpha!r}.")
        seconds = study.min_stimulus_seconds if self.min_stimulus_seconds is None else self.min_stimulus_seconds
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise AnalysisError(f"min_stimulus_seconds must be a non-negative number, not {seconds!r}.")
        families = self.families
        if families is not None and not (
            isinstance(families, dict)
            and all(isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
                    for k, v in families.items())
        ):
            raise AnalysisError('families must map a family name to a list of item keys, e.g. {"main": ["arms"]}.')
        data = asdict(self)
        data.update(alpha=float(self.alpha), min_stimulus_seconds=float(seconds), families=families or None)
        return data


# --------------------------------------------------------------------------------------------------
# Exclusions
# --------------------------------------------------------------------------------------------------
def _exclusion_reasons(
    participant: dict[str, Any],
    *,
    params: dict[str, Any],
    attention_items: list[Item],
    answers: dict[int, tuple[int | None, str]],
    stimulus_seconds: float | None,
) -> list[str]:
    reasons = []
    if participant["is_simulated"] and not params["include_simulated"]:
        reasons.append("simulated")
    finished = participant["status"] in selectors.FINISHED_STATUSES
    if params["exclude_incomplete"] and (not finished or participant["condition_id"] is None):
        reasons.append("incomplete")
    if params["exclude_failed_attention"]:
        failed = participant["attention_failed"] or participant["status"] == Participant.Status.FAILED_ATTENTION
        for item in attention_items:
            given = answers.get(item.pk, (None, ""))[0]
            if given is not None and given != item.expected_answer:
                failed = True
        if failed:
            reasons.append("failed_attention")
    minimum = params["min_stimulus_seconds"]
    if minimum > 0 and (stimulus_seconds or 0.0) < minimum:
        reasons.append("too_fast")
    return reasons


# --------------------------------------------------------------------------------------------------
# Running an analysis
# --------------------------------------------------------------------------------------------------
def _hash_data(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _likert_answer(value_int: int | None, value_text: str) -> Any:
    # Answers are stored as integers; a text value in a Likert item is passed on so that the analysis
    # names it ("'agree' is not a numeric response") instead of silently dropping it.
    return value_int if value_int is not None else (value_text if value_text.strip() else None)


def _design_results(*, study: Study, params: dict[str, Any]) -> dict[str, Any] | None:
    """The results of a design that analyses itself (annotation, trials); None for the between-group design."""
    design = design_for(study)
    options = {name: params[name] for name in design.analysis_options}
    try:
        section = design.analyse(study=study, include_simulated=params["include_simulated"], **options)
    except AnalysisInputError as error:
        raise AnalysisError(str(error)) from None
    if section is None:
        return None
    return {"format_version": FORMAT_VERSION, "study": {"slug": study.slug, "title": study.title},
            "parameters": params, "design": study.design, **section}


def analysis_compute(*, study: Study, parameters: AnalysisParameters | None = None) -> tuple[dict, str, dict]:
    """(stored parameters, sha256 of the data used, results) without writing anything.

    Raises AnalysisError with a plain message for studies that cannot be analysed: no conditions or
    only one, no Likert items, nobody left after exclusions, non-numeric or out-of-range answers.
    """
    params = (parameters or AnalysisParameters()).validated(study=study)
    designed = _design_results(study=study, params=params)
    if designed is not None:
        return params, designed["data_hash"], designed
    data = selectors.study_data(study=study, include_simulated=True)
    if len(data.conditions) < 2:
        names = ", ".join(c.slug for c in data.conditions) or "none"
        raise AnalysisError(
            f"Study {study.slug!r} has {len(data.conditions)} condition(s) ({names}); "
            "an analysis across conditions needs at least two."
        )
    page_rank = {page: rank for rank, page in enumerate(Item.Page.values)}
    likert_items = sorted(
        (item for item in data.items if item.kind == Item.Kind.LIKERT),
        key=lambda item: (page_rank.get(item.page, 99), item.order, item.pk),
    )
    if not likert_items:
        raise AnalysisError(f"Study {study.slug!r} has no Likert items to analyse.")
    if not data.participants:
        raise AnalysisError(f"Study {study.slug!r} has no participants yet: nothing to analyse.")
    attention_items = [item for item in data.items if item.kind == Item.Kind.ATTENTION_CHECK]
    condition_slug = {c.pk: c.slug for c in data.conditions}

    included: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    reason_counts: Counter[str] = Counter()
    for participant in data.participants:
        answers = data.responses.get(participant["pk"], {})
        reasons = _exclusion_reasons(
            participant, params=params, attention_items=attention_items, answers=answers,
            stimulus_seconds=data.stimulus_seconds.get(participant["pk"]),
        )
        if reasons:
            reason_counts.update(reasons)
            excluded.append({
                "participant": participant["pk"],
                "condition": condition_slug.get(participant["condition_id"]),
                "reasons": reasons,
            })
        else:
            included.append(participant)
    exclusions = {
        "rules": {
            "simulated": not params["include_simulated"],
            "incomplete": params["exclude_incomplete"],
            "failed_attention": params["exclude_failed_attention"],
            "min_stimulus_seconds": params["min_stimulus_seconds"],
        },
        "reasons": EXCLUSION_REASONS,
        "total_participants": len(data.participants),
        "included": len(included),
        "excluded": len(excluded),
        "counts": {reason: reason_counts.get(reason, 0) for reason in EXCLUSION_REASONS},
        "participants": excluded,
    }
    if not included:
        summary = ", ".join(f"{reason}: {count}" for reason, count in reason_counts.items())
        hint = " Simulated participants count only with include_simulated." if reason_counts["simulated"] else ""
        raise AnalysisError(
            f"No participants left to analyse in {study.slug!r}: all {len(excluded)} excluded ({summary}).{hint}"
        )

    conditions = [c.slug for c in data.conditions]
    raw: dict[str, dict[str, list[Any]]] = {item.key: {slug: [] for slug in conditions} for item in likert_items}
    rows = []
    for participant in included:
        slug = condition_slug[participant["condition_id"]]
        answers = data.responses.get(participant["pk"], {})
        for item in likert_items:
            if item.pk in answers:
                value_int, value_text = answers[item.pk]
                raw[item.key][slug].append(_likert_answer(value_int, value_text))
                rows.append([participant["pk"], slug, item.key, value_int, value_text if value_int is None else ""])
    specs = [
        ItemSpec(key=i.key, text=i.text, group=i.group, scale_points=i.scale_points, reverse_coded=i.reverse_coded)
        for i in likert_items
    ]
    data_hash = _hash_data({
        "conditions": [[c.slug, c.name] for c in data.conditions],
        "items": [[s.key, s.group, s.scale_points, s.reverse_coded] for s in specs],
        "rows": sorted(rows),
    })
    try:
        item_results = analyze_items(
            items=specs, conditions=conditions, answers=raw, correction=params["correction"],
            alpha=params["alpha"], families=params["families"], posthoc=params["posthoc"],
        )
        recoded = {spec.key: item_values(spec, conditions, raw[spec.key]) for spec in specs}
    except AnalysisInputError as error:
        raise AnalysisError(str(error)) from None

    hypotheses = []
    scale_points = {spec.key: spec.scale_points for spec in specs}
    for hypothesis in selectors.hypothesis_list(study=study):
        try:
            outcome = evaluate_hypothesis(
                hypothesis.kind, hypothesis.parameters, values=recoded, scale_points=scale_points
            )
        except AnalysisInputError as error:
            outcome = {"verdict": "not_evaluable", "statement": str(error)}
        hypotheses.append({
            "key": hypothesis.key, "kind": hypothesis.kind, "parameters": hypothesis.parameters,
            "description": hypothesis.description, **outcome,
        })

    n_per_condition = Counter(condition_slug[p["condition_id"]] for p in included)
    results = {
        "format_version": FORMAT_VERSION,
        "study": {"slug": study.slug, "title": study.title},
        "data_hash": data_hash,
        "parameters": params,
        "test": "kruskal_wallis",
        "correction": item_results["correction"],
        "alpha": item_results["alpha"],
        "conditions": conditions,
        "condition_names": {c.slug: c.name for c in data.conditions},
        "participants_per_condition": {slug: n_per_condition.get(slug, 0) for slug in conditions},
        "exclusions": exclusions,
        "families": item_results["families"],
        "items": item_results["items"],
        "hypotheses": hypotheses,
        "problems": item_results["problems"],
    }
    return params, data_hash, results


@transaction.atomic
def analysis_run(
    *,
    study: Study,
    parameters: AnalysisParameters | None = None,
    created_by=None,
    reuse: bool = False,
) -> Analysis:
    """Analyse the study and store the result; with ``reuse`` an identical stored analysis is returned."""
    params, data_hash, results = analysis_compute(study=study, parameters=parameters)
    if reuse:
        existing = selectors.analysis_latest(study=study, parameters=params, data_hash=data_hash)
        if existing is not None:
            return existing
    analysis = Analysis(study=study, parameters=params, data_hash=data_hash, results=results, created_by=created_by)
    analysis.full_clean()
    analysis.save()
    return analysis
