"""Analysis plans: written as dated versions while the study is a draft, frozen when it is launched,
exported as AsPredicted-style text and JSON, and logged (versions, the freeze, interim looks).

The freeze is hooked to the launch without the studies app knowing about plans: stats.signals listens to
Study saves and calls ``plan_freeze`` when a study leaves the draft state (in the launch's transaction, so a
plan that no longer fits the study stops the launch with its reason).
"""
from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies.models import Item, Study

from ..analysis import AnalysisInputError
from ..analysis.plan import EDITABLE_KEYS, complete_plan, default_plan, plan_text
from ..models import AnalysisPlan, Hypothesis, PlanLogEntry
from .exports import ExportFile

PLAN_EXPORT_FORMATS = ("json", "text")


def study_plan_inputs(study: Study) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The study's conditions and Likert items as the plan names them, in the order participants see items."""
    conditions = [{"slug": c.slug, "name": c.name} for c in study.conditions.order_by("order", "pk")]
    rank = {page: position for position, page in enumerate(Item.Page.values)}
    likert = sorted(study.items.filter(kind=Item.Kind.LIKERT), key=lambda i: (rank.get(i.page, 99), i.order, i.pk))
    items = [{"key": i.key, "text": i.text, "group": i.group, "scale_points": i.scale_points,
              "reverse_coded": i.reverse_coded} for i in likert]
    return conditions, items


def _hypotheses(study: Study) -> list[dict[str, Any]]:
    return [{"key": h.key, "kind": h.kind, "parameters": h.parameters, "description": h.description}
            for h in Hypothesis.objects.filter(study=study).order_by("pk")]


def _completed(study: Study, editable: dict[str, Any] | None) -> dict[str, Any]:
    conditions, items = study_plan_inputs(study)
    try:
        if editable is None:
            plan = default_plan(conditions=conditions, items=items,
                                min_stimulus_seconds=float(study.min_stimulus_seconds or 0),
                                target_per_condition=study.target_per_condition)
            return complete_plan({**{k: plan[k] for k in EDITABLE_KEYS}, "hypotheses": _hypotheses(study)},
                                 conditions=conditions, items=items)
        return complete_plan({**editable, "hypotheses": _hypotheses(study)}, conditions=conditions, items=items)
    except AnalysisInputError as error:
        raise ValidationError({"plan": str(error)}) from None


def plan_latest(*, study: Study) -> AnalysisPlan | None:
    return AnalysisPlan.objects.filter(study=study).order_by("-version").first()


def plan_frozen(*, study: Study) -> AnalysisPlan | None:
    return AnalysisPlan.objects.filter(study=study, frozen_at__isnull=False).order_by("-version").first()


def plan_spec(*, study: Study) -> tuple[dict[str, Any], AnalysisPlan | None]:
    """The plan an analysis is compared with: the frozen version, else the latest draft version brought up
    to date with the study (its items and hypotheses), else the default plan."""
    frozen = plan_frozen(study=study)
    if frozen is not None:
        return frozen.spec, frozen
    latest = plan_latest(study=study)
    editable = {k: latest.spec[k] for k in EDITABLE_KEYS if k != "hypotheses"} if latest else None
    return _completed(study, editable), latest


def _next_version(study: Study) -> int:
    latest = plan_latest(study=study)
    return (latest.version if latest else 0) + 1


def _require_draft(study: Study) -> None:
    frozen = plan_frozen(study=study)
    if study.status != Study.Status.DRAFT or frozen is not None:
        when = f" on {frozen.frozen_at:%Y-%m-%d %H:%M} UTC" if frozen else ""
        raise ValidationError({"plan": f"The analysis plan was frozen when the study was launched{when}; it cannot "
                                       "be changed. Analyses that depart from it are reported as exploratory."})


@transaction.atomic
def plan_save(*, study: Study, spec: dict[str, Any], note: str = "", created_by=None) -> AnalysisPlan:
    """A new dated version of the draft study's plan; ValidationError (nothing stored) for bad input."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    _require_draft(study)
    if not isinstance(spec, dict):
        raise ValidationError({"plan": "The analysis plan must be an object."})
    if "hypotheses" in spec:
        raise ValidationError({"plan": "Hypotheses are written through the study's hypotheses (API /hypotheses/ or "
                                       "the template); the plan copies them in."})
    completed = _completed(study, spec)
    plan = AnalysisPlan(study=study, version=_next_version(study), spec=completed, note=note[:200],
                        created_by=created_by)
    plan.full_clean()
    plan.save()
    PlanLogEntry.objects.create(study=study, plan=plan, event=PlanLogEntry.Event.VERSION, created_by=created_by,
                                message=note or f"Version {plan.version} written.")
    return plan


@transaction.atomic
def plan_freeze(*, study: Study, created_by=None) -> AnalysisPlan:
    """Freeze the plan as it stands (idempotent): the version every later analysis is compared with."""
    frozen = plan_frozen(study=study)
    if frozen is not None:
        return frozen
    latest = plan_latest(study=study)
    editable = {k: latest.spec[k] for k in EDITABLE_KEYS if k != "hypotheses"} if latest else None
    try:
        completed = _completed(study, editable)
    except ValidationError as error:
        raise ValidationError({"plan": f"The analysis plan does not fit the study any more, so it cannot be frozen "
                                       f"at launch: {' '.join(error.messages)} Save a corrected plan first."}) from None
    plan = AnalysisPlan(study=study, version=_next_version(study), spec=completed, frozen_at=timezone.now(),
                        note="frozen at launch", created_by=created_by)
    plan.save()
    PlanLogEntry.objects.create(study=study, plan=plan, event=PlanLogEntry.Event.FROZEN, created_by=created_by,
                                message=f"Plan version {plan.version} frozen when the study left the draft state.",
                                details={"launched_at": study.launched_at.isoformat() if study.launched_at else None})
    return plan


def interim_look_record(*, study: Study, user=None, reason: str = "", details: dict | None = None) -> PlanLogEntry:
    """Log a researcher's confirmed interim look at a live study's data."""
    return PlanLogEntry.objects.create(
        study=study, plan=plan_frozen(study=study), event=PlanLogEntry.Event.INTERIM_LOOK, created_by=user,
        message=reason or "Interim look confirmed by the researcher.", details=details or {})


def plan_document(*, study: Study) -> dict[str, Any]:
    spec, version = plan_spec(study=study)
    return {
        "study": {"slug": study.slug, "title": study.title, "status": study.status},
        "version": version.version if version and version.spec == spec else None,
        "frozen_at": version.frozen_at.isoformat() if version and version.frozen_at else None,
        "plan": spec,
        "versions": [{"version": v.version, "created_at": v.created_at.isoformat(), "note": v.note,
                      "frozen_at": v.frozen_at.isoformat() if v.frozen_at else None}
                     for v in AnalysisPlan.objects.filter(study=study).order_by("version")],
        "log": [{"event": e.event, "at": e.created_at.isoformat(), "message": e.message, "details": e.details,
                 "plan_version": e.plan.version if e.plan_id else None,
                 "by": e.created_by.get_username() if e.created_by_id else None}
                for e in PlanLogEntry.objects.filter(study=study).select_related("plan", "created_by")],
    }


def plan_export(*, study: Study, fmt: str) -> ExportFile:
    """The plan as JSON (with its versions and log) or as AsPredicted-style text."""
    if fmt not in PLAN_EXPORT_FORMATS:
        raise ValidationError({"format": f"Unknown plan format {fmt!r}; choose one of: "
                                         f"{', '.join(PLAN_EXPORT_FORMATS)}."})
    document = plan_document(study=study)
    if fmt == "json":
        return ExportFile(json.dumps(document, indent=2, ensure_ascii=False), "application/json",
                          f"{study.slug}-analysis-plan.json")
    text = plan_text(document["plan"], title=study.title, version=document["version"], frozen_at=document["frozen_at"])
    if document["log"]:
        text += "\nPlan log\n" + "".join(f"- {e['at']}: {e['event']}: {e['message']}\n" for e in document["log"])
    return ExportFile(text, "text/plain; charset=utf-8", f"{study.slug}-analysis-plan.txt")
