"""A between-group study analysed from its long export under an analysis plan (no Django).

Exclusions (each rule of the plan), per-item missing answers per condition, the item and scale tests of
stats.analysis.questionnaire, Cronbach's alpha of each scale, the hypotheses' verdicts on the table, and
the exclusion sensitivity table: the analysis rerun with each exclusion rule switched off in turn, listing
every verdict and significance that changes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError
from .hypotheses import evaluate_hypotheses
from .likert import likert_values
from .long_table import LongData, ordered_items, rows_sha256
from .questionnaire import ItemSpec, PValueSettings, analyze_items, item_values
from .reliability import cronbach_alpha

FINISHED_STATUSES = ("completed", "failed_attention")
EXCLUSION_REASONS = {
    "simulated": "simulated participant (use include_simulated to analyse them)",
    "incomplete": "did not complete the study",
    "failed_attention": "failed an attention check",
    "too_fast": "spent less than the minimum time on the stimulus page",
    "researcher": "excluded by the researcher (their reason is listed with the participant)",
}
SENSITIVITY_RULES = {"incomplete": "incomplete", "failed_attention": "failed_attention",
                     "too_fast": "min_stimulus_seconds"}


def exclusion_reasons(participant: Mapping[str, Any], answers: Mapping[str, str], *, rules: Mapping[str, Any],
                      attention_items: Sequence[Mapping[str, Any]]) -> list[str]:
    if participant["is_simulated"] and rules["simulated"]:
        # Not part of this analysis at all: its other reasons must not swell the real participants' counts.
        return ["simulated"]
    reasons = []
    if participant.get("excluded_reason"):
        reasons.append("researcher")
    if rules["incomplete"] and (participant["status"] not in FINISHED_STATUSES or not participant["condition"]):
        reasons.append("incomplete")
    if rules["failed_attention"]:
        failed = participant["attention_failed"] or participant["status"] == "failed_attention"
        for item in attention_items:
            given = answers.get(item["key"], "").strip()
            if given and item["expected_answer"] is not None and given != str(item["expected_answer"]):
                failed = True
        if failed:
            reasons.append("failed_attention")
    minimum = rules["min_stimulus_seconds"]
    if minimum > 0 and (participant["stimulus_seconds"] or 0.0) < minimum:
        reasons.append("too_fast")
    return reasons


def _select(data: LongData, rules: Mapping[str, Any]) -> tuple[list[dict], list[dict], Counter]:
    attention = ordered_items(data, "attention_check")
    included, excluded, counts = [], [], Counter()
    for participant in data.participants.values():
        reasons = exclusion_reasons(participant, data.answers.get(participant["participant"], {}), rules=rules,
                                    attention_items=attention)
        if not reasons and not participant["condition"]:
            reasons = ["incomplete"]  # never assigned: there is no condition to analyse them in
        if reasons:
            counts.update(reasons)
            excluded.append({"participant": participant["participant"], "condition": participant["condition"] or None,
                             "reasons": reasons, "researcher_reason": participant.get("excluded_reason", "")})
        else:
            included.append(participant)
    return included, excluded, counts


def _item_specs(data: LongData, plan: Mapping[str, Any]) -> tuple[list[ItemSpec], list[str]]:
    """The plan's Likert items, then any Likert item of the data the plan does not name (a departure)."""
    specs = [ItemSpec(key=i["key"], text=i["text"], group=i["group"], scale_points=i["scale_points"],
                      reverse_coded=i["reverse_coded"]) for i in plan["items"]]
    planned = {spec.key for spec in specs}
    departures = []
    for item in ordered_items(data, "likert"):
        if item["key"] not in planned:
            specs.append(ItemSpec(key=item["key"], group=item["group"], scale_points=item["scale_points"] or 7,
                                  reverse_coded=item["reverse_coded"]))
            departures.append(f"item {item['key']!r} is analysed but not in the plan")
    return specs, departures


def _tables(data: LongData, plan: Mapping[str, Any], included: Sequence[Mapping[str, Any]], specs: list[ItemSpec],
            *, intervals: bool) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    conditions = [c["slug"] for c in plan["conditions"]]
    raw = {spec.key: {slug: [] for slug in conditions} for spec in specs}
    missing = {spec.key: {slug: 0 for slug in conditions} for spec in specs}
    for participant in included:
        answers = data.answers.get(participant["participant"], {})
        for spec in specs:
            if answers.get(spec.key, "").strip():
                raw[spec.key][participant["condition"]].append(answers[spec.key])
            else:
                missing[spec.key][participant["condition"]] += 1
    by_key = {spec.key: spec for spec in specs}
    scores: dict[str, dict[str, Any]] = {}
    reliability: dict[str, Any] = {}
    for name, scale in plan["scales"].items():
        values = {slug: [] for slug in conditions}
        missing[name] = {slug: 0 for slug in conditions}
        complete = []
        for participant in included:
            answers = data.answers.get(participant["participant"], {})
            given = [answers.get(key, "").strip() for key in scale["items"]]
            if not all(given):
                missing[name][participant["condition"]] += 1
                continue
            row = []
            for key, value in zip(scale["items"], given, strict=True):
                spec = by_key[key]
                point = int(likert_values([value], spec.scale_points, label=f"item {key!r}")[0])
                row.append(spec.scale_points + 1 - point if spec.reverse_coded else point)
            complete.append(row)
            values[participant["condition"]].append(float(np.mean(row)))
        scores[name] = {"text": scale["text"], "items": scale["items"], "values": values}
        reliability[name] = {"items": scale["items"], **cronbach_alpha(
            np.asarray(complete, dtype=float).reshape(len(complete), len(scale["items"])),
            confidence=plan["effect_sizes"]["confidence"])}
    exact = plan["exact"]
    settings = PValueSettings(exact=exact["policy"], min_group_size=exact["min_group_size"],
                            resamples=exact["resamples"], seed=exact["seed"], intervals=intervals,
                            bootstrap_resamples=plan["effect_sizes"]["bootstrap_resamples"],
                            confidence=plan["effect_sizes"]["confidence"], tests=plan["tests"])
    results = analyze_items(items=specs, conditions=conditions, answers=raw, correction=plan["correction"],
                            alpha=plan["alpha"], families=plan["families"], settings=settings, scores=scores,
                            missing=missing)
    recoded = {spec.key: item_values(spec, conditions, raw[spec.key]) for spec in specs}
    rows = {row["key"]: row for row in results["items"] + results["scales"]}
    hypotheses = evaluate_hypotheses(plan["hypotheses"], values=recoded,
                                     scale_points={spec.key: spec.scale_points for spec in specs}, tests=rows)
    return results, hypotheses, reliability


def _sensitivity(data: LongData, plan: Mapping[str, Any], specs: list[ItemSpec], results: Mapping[str, Any],
                 hypotheses: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each exclusion rule switched off in turn: does any verdict or significance change?"""
    verdicts = {h["key"]: h["verdict"] for h in hypotheses}
    significance = {row["key"]: row["test"]["significant"] for row in results["items"] + results["scales"]}
    table = []
    for reason, rule in SENSITIVITY_RULES.items():
        rules = dict(plan["exclusions"])
        if not rules[rule]:
            continue
        rules[rule] = 0.0 if rule == "min_stimulus_seconds" else False
        included, _, _ = _select(data, rules)
        other, other_hypotheses, _ = _tables(data, plan, included, specs, intervals=False)
        changed = [{"hypothesis": h["key"], "from": verdicts[h["key"]], "to": h["verdict"]}
                   for h in other_hypotheses if h["verdict"] != verdicts[h["key"]]]
        flipped = [{"item": row["key"], "from": significance[row["key"]], "to": row["test"]["significant"]}
                   for row in other["items"] + other["scales"] if row["test"]["significant"] != significance[row["key"]]]
        table.append({"rule": reason, "description": EXCLUSION_REASONS[reason], "included": len(included),
                      "changed_verdicts": changed, "changed_significance": flipped,
                      "any_change": bool(changed or flipped)})
    return table


def analyze_long(data: LongData, plan: Mapping[str, Any], *, sensitivity: bool = True) -> dict[str, Any]:
    """The documented results (docs/ANALYSIS_FORMAT.md) of the long data under a completed plan."""
    conditions = [c["slug"] for c in plan["conditions"]]
    if len(conditions) < 2:
        raise AnalysisInputError(
            f"The study has {len(conditions)} condition(s) ({', '.join(conditions) or 'none'}); "
            "an analysis across conditions needs at least two."
        )
    unknown = [slug for slug in data.conditions if slug not in conditions]
    if unknown:
        raise AnalysisInputError(f"Condition(s) {', '.join(unknown)} in the data are not in the plan.")
    specs, departures = _item_specs(data, plan)
    if not specs:
        raise AnalysisInputError("The study has no Likert items to analyse.")
    if not data.participants:
        raise AnalysisInputError("The study has no participants yet: nothing to analyse.")
    rules = plan["exclusions"]
    included, excluded, counts = _select(data, rules)
    if not included:
        summary = ", ".join(f"{reason}: {count}" for reason, count in counts.items())
        hint = " Simulated participants count only with include_simulated." if counts["simulated"] else ""
        raise AnalysisInputError(f"No participants left to analyse: all {len(excluded)} excluded ({summary}).{hint}")
    results, hypotheses, reliability = _tables(data, plan, included, specs, intervals=True)
    kept_rows = [data.rows[index] for index in sorted(i for participant in included for i in participant["rows"])]
    per_condition = Counter(participant["condition"] for participant in included)
    return {
        "data_hash": rows_sha256(data.header, kept_rows),
        "input_file_sha256": data.file_sha256,
        "rows_analysed": len(kept_rows),
        "test": "kruskal_wallis",
        "correction": plan["correction"],
        "alpha": plan["alpha"],
        "conditions": conditions,
        "condition_names": {c["slug"]: c["name"] for c in plan["conditions"]},
        "participants_per_condition": {slug: per_condition.get(slug, 0) for slug in conditions},
        "exclusions": {
            "rules": {"simulated": rules["simulated"], "incomplete": rules["incomplete"],
                      "failed_attention": rules["failed_attention"],
                      "min_stimulus_seconds": rules["min_stimulus_seconds"]},
            "reasons": EXCLUSION_REASONS,
            "total_participants": len(data.participants),
            "included": len(included),
            "included_real": sum(1 for participant in included if not participant["is_simulated"]),
            "excluded": len(excluded),
            # The researcher's exclusions are listed once there are any (most studies have none).
            "counts": {reason: counts.get(reason, 0) for reason in EXCLUSION_REASONS
                       if reason != "researcher" or counts.get(reason)},
            "participants": excluded,
        },
        "families": results["families"],
        "family_corrections": results["family_corrections"],
        "items": results["items"],
        "scales": results["scales"],
        "reliability": reliability,
        "hypotheses": hypotheses,
        "sensitivity": _sensitivity(data, plan, specs, results, hypotheses) if sensitivity else [],
        "problems": results["problems"],
        "unplanned_items": departures,
    }
