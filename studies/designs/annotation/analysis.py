"""The analysis of an annotation study, laid out like Table 5 of Singla et al. (ICLR 2020, appendix A.4).

Per task and per subcategory: majority-vote accuracy against ground truth with a Wilson interval (ties
counted and reported), raw vote accuracy, and Fleiss' kappa with its standard error over the k votes per
item. The numbers come from stats.analysis.agreement; this module loads the votes of the participants who
count (completed, passed the attention items, real unless simulated ones are asked for).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from stats.analysis.agreement import ItemVotes, agreement_summary
from stats.analysis.cleaning import AnalysisInputError
from studies.designs.common.analysis import data_hash, participants_included
from studies.models import Participant, Study

from .models import AnnotationItem, AnnotationTask, AnnotationVote
from .services import annotation_settings_for

def _item_votes(task: AnnotationTask, item: AnnotationItem, votes: list[str]) -> ItemVotes:
    choices = tuple(item.choice_keys())
    truth = item.ground_truth if task.measures_accuracy and item.ground_truth else None
    return ItemVotes(key=item.key, votes=tuple(votes), choices=choices, truth=truth)


def annotation_analyse(*, study: Study, include_simulated: bool = False) -> dict[str, Any]:
    """The study's results as a JSON-ready dict (docs/ANALYSIS_FORMAT.md, "Annotation studies").

    Raises AnalysisInputError when there is nothing to analyse (no tasks, nobody left after exclusions).
    """
    k = annotation_settings_for(study).votes_per_item
    tasks = list(AnnotationTask.objects.filter(study=study).order_by("order", "pk"))
    if not tasks:
        raise AnalysisInputError(f"Study {study.slug!r} has no annotation tasks to analyse.")
    participants = list(Participant.objects.filter(study=study).exclude(status=Participant.Status.DECLINED)
                        .values("pk", "status", "is_simulated", "attention_failed", "excluded_reason"))
    included, exclusions = participants_included(participants, study=study, include_simulated=include_simulated,
                                                 attention=True)

    votes: dict[int, list[str]] = defaultdict(list)
    rows = []
    for item_id, participant_id, choice in (AnnotationVote.objects
                                            .filter(item__task__study=study, item__is_attention=False,
                                                    participant_id__in=included)
                                            .order_by("created_at", "pk")
                                            .values_list("item_id", "participant_id", "choice")):
        votes[item_id].append(choice)
        rows.append([participant_id, item_id, choice])

    items = (AnnotationItem.objects.filter(task__study=study, is_attention=False).select_related("task")
             .prefetch_related("images").order_by("order", "pk"))
    items_by_task: dict[int, list[AnnotationItem]] = defaultdict(list)
    for item in items:
        items_by_task[item.task_id].append(item)
    task_results = []
    for task in tasks:
        task_items = items_by_task.get(task.pk, [])
        entries = [(item, _item_votes(task, item, votes.get(item.pk, []))) for item in task_items]
        subcategories = sorted({item.subcategory for item in task_items if item.subcategory})
        task_results.append({
            "key": task.key, "title": task.title, "question": task.question, "answer_kind": task.answer_kind,
            "measures_accuracy": task.measures_accuracy,
            "overall": agreement_summary([entry for _, entry in entries], k=k),
            "subcategories": [
                {"name": name, **agreement_summary([entry for item, entry in entries if item.subcategory == name], k=k)}
                for name in subcategories
            ],
        })
    hashed = {"k": k, "items": sorted([item.pk, item.task.key, item.key, item.ground_truth] for item in items),
              "votes": sorted(rows)}
    return {
        "design": Study.Design.ANNOTATION.value,
        "data_hash": data_hash(hashed),
        "votes_per_item": k,
        "participants_included": len(included),
        "exclusions": exclusions,
        "tasks": task_results,
        "problems": [
            f"Task {task['key']!r}: {task['overall']['items_missing_votes']} of {task['overall']['items']} items "
            f"have fewer than k = {k} votes from included participants and are left out."
            for task in task_results if task["overall"]["items_missing_votes"]
        ],
    }


TABLE5_COLUMNS = (
    "task", "task_title", "subcategory", "items", "items_with_k_votes", "items_scored", "majority_correct",
    "majority_accuracy", "majority_ci_low", "majority_ci_high", "ties", "raw_votes_correct", "raw_votes",
    "raw_accuracy", "raw_ci_low", "raw_ci_high", "kappa", "kappa_se", "kappa_z", "kappa_p", "kappa_interpretation",
    "kappa_note",
)


def table5_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per task (subcategory "") and per subcategory, the layout of Table 5."""
    rows = []
    for task in results["tasks"]:
        for name, summary in [("", task["overall"])] + [(sub["name"], sub) for sub in task["subcategories"]]:
            majority, raw, kappa = summary["majority_vote"], summary["raw_votes"], summary["fleiss_kappa"]
            rows.append({
                "task": task["key"], "task_title": task["title"], "subcategory": name,
                "items": summary["items"], "items_with_k_votes": summary["items_with_k_votes"],
                "items_scored": summary["items_scored"], "majority_correct": majority["successes"],
                "majority_accuracy": majority["proportion"], "majority_ci_low": majority["ci_low"],
                "majority_ci_high": majority["ci_high"], "ties": majority["ties"],
                "raw_votes_correct": raw["successes"], "raw_votes": raw["n"], "raw_accuracy": raw["proportion"],
                "raw_ci_low": raw["ci_low"], "raw_ci_high": raw["ci_high"], "kappa": kappa["kappa"],
                "kappa_se": kappa["se"], "kappa_z": kappa["z"], "kappa_p": kappa["p"],
                "kappa_interpretation": kappa.get("interpretation", ""), "kappa_note": kappa["note"],
            })
    return rows
