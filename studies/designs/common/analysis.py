"""What the analyses of the design apps share: who counts, the "exclusions" section, the hash of the data read.

A participant counts when they completed the study, are real (unless simulated ones are asked for) and, where
the design has attention items, answered them right; docs/ANALYSIS_FORMAT.md describes the section per design.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from stats.analysis.cleaning import AnalysisInputError
from studies.models import Participant, Study

EXCLUSION_REASONS = {
    "simulated": "simulated participant (use include_simulated to analyse them)",
    "incomplete": "did not complete the study",
    "failed_attention": "answered an attention item wrongly",
    "researcher": "excluded by the researcher, with a recorded reason (dashboard, admin or API)",
}


def _exclusion_reasons(participant: dict[str, Any], *, include_simulated: bool, attention: bool) -> list[str]:
    reasons = []
    if participant["is_simulated"] and not include_simulated:
        reasons.append("simulated")
    if attention and (participant["status"] == Participant.Status.FAILED_ATTENTION or participant["attention_failed"]):
        reasons.append("failed_attention")
    elif participant["status"] != Participant.Status.COMPLETED:
        reasons.append("incomplete")
    if participant.get("excluded_reason"):
        reasons.append("researcher")
    return reasons


def participants_included(participants: list[dict[str, Any]], *, study: Study, include_simulated: bool,
                          attention: bool = False) -> tuple[set[int], dict[str, Any]]:
    """(pks of the participants who count, the analysis' "exclusions" section).

    ``participants`` are dicts with pk, status, is_simulated, excluded_reason (the researcher's exclusion; empty
    when none) and, when ``attention`` (the design has attention items), attention_failed. Raises
    AnalysisInputError when nobody counts.
    """
    reasons_used = [reason for reason in EXCLUSION_REASONS if attention or reason != "failed_attention"]
    included, excluded, reason_counts = set(), [], Counter()
    for participant in participants:
        reasons = _exclusion_reasons(participant, include_simulated=include_simulated, attention=attention)
        if reasons:
            reason_counts.update(reasons)
            excluded.append({"participant": participant["pk"], "reasons": reasons})
        else:
            included.add(participant["pk"])
    if not included:
        summary = ", ".join(f"{reason}: {count}" for reason, count in reason_counts.items()) or "nobody took part"
        raise AnalysisInputError(f"No participants left to analyse in {study.slug!r} ({summary}).")
    rules = {"simulated": not include_simulated, "incomplete": True, "researcher": True}
    if attention:
        rules["failed_attention"] = True
    return included, {
        "rules": rules,
        "reasons": {reason: EXCLUSION_REASONS[reason] for reason in reasons_used},
        "total_participants": len(participants),
        "included": len(included),
        "excluded": len(excluded),
        "counts": {reason: reason_counts.get(reason, 0) for reason in reasons_used},
        "participants": excluded,
    }


def data_hash(data: Any) -> str:
    """sha256 of the analysed data as compact JSON (same data, same hash: the analysis can be re-checked)."""
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode("ascii")).hexdigest()
