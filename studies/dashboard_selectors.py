"""Reads behind the researcher dashboard: live counts per condition, balance, timing and grid readiness.

Real and simulated participants are always counted apart: the dashboard shows both, never a sum.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest
from django.urls import reverse

from .models import Participant, Study
from .recruitment import completion_codes, public_base_url, public_base_url_mismatch

#: Columns of the per-condition table. "returned" includes timed-out participants (both reopen the place);
#: "excluded" are those who failed the attention check or whom the researcher excluded (not "completed").
COUNT_COLUMNS = ("started", "active", "completed", "returned", "excluded")
_COLUMN_STATUSES = {
    "active": [Participant.Status.ACTIVE],
    "completed": [Participant.Status.COMPLETED],
    "returned": [Participant.Status.RETURNED, Participant.Status.TIMED_OUT],
    "excluded": [Participant.Status.FAILED_ATTENTION],
}
PROLIFIC_QUERY = "PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"


def dashboard_study_for(*, user, slug: str) -> Study:
    """The study if `user` owns it or is a superuser; Http404 otherwise (nobody learns that it exists)."""
    study = Study.objects.select_related("owner").filter(slug=slug).first()
    if study is None or not (user.is_authenticated and (study.owner_id == user.pk or user.is_superuser)):
        raise Http404("No such study.")
    return study


def dashboard_studies_for(*, user) -> QuerySet[Study]:
    """The researcher's own studies, newest first, with real participant totals."""
    real = Q(participants__is_simulated=False)
    return (
        Study.objects.filter(owner=user)
        .annotate(
            n_conditions=Count("conditions", distinct=True),
            n_started=Count("participants", distinct=True,
                            filter=real & Q(participants__condition__isnull=False)),
            n_completed=Count("participants", distinct=True,
                              filter=real & Q(participants__status=Participant.Status.COMPLETED)),
        )
        .order_by("-created_at")
    )


@dataclass
class Population:
    """Counts of one population (real or simulated participants)."""

    rows: list[dict[str, Any]] = field(default_factory=list)  # per condition: slug, name, COUNT_COLUMNS
    totals: dict[str, int] = field(default_factory=dict)
    balance: int = 0  # max - min completed over conditions
    not_consented: int = 0  # entered, not yet assigned a condition
    declined: int = 0
    attention_failures: int = 0
    median_completion_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "conditions": self.rows, "totals": self.totals, "balance": self.balance,
            "not_consented": self.not_consented, "declined": self.declined,
            "attention_failures": self.attention_failures,
            "median_completion_seconds": self.median_completion_seconds,
        }


def _population(study: Study, *, simulated: bool) -> Population:
    participants = Participant.objects.filter(study=study, is_simulated=simulated)
    population = Q(participants__is_simulated=simulated)
    aggregates = {"started": Count("participants", filter=population)}
    excluded_by_researcher = ~Q(participants__excluded_reason="")
    for column, statuses in _COLUMN_STATUSES.items():
        in_column = Q(participants__status__in=statuses)
        if column == "excluded":
            in_column |= excluded_by_researcher
        elif column == "completed":
            in_column &= ~excluded_by_researcher
        aggregates[column] = Count("participants", filter=population & in_column)
    rows = [
        {"slug": condition.slug, "name": condition.name,
         **{column: getattr(condition, column) for column in COUNT_COLUMNS}}
        for condition in study.conditions.order_by("order", "pk").annotate(**aggregates)
    ]
    completed = [row["completed"] for row in rows]
    finished = participants.filter(status=Participant.Status.COMPLETED, completed_at__isnull=False)
    durations = [(done - start).total_seconds()
                 for start, done in finished.values_list("started_at", "completed_at")]
    return Population(
        rows=rows,
        totals={column: sum(row[column] for row in rows) for column in COUNT_COLUMNS},
        balance=(max(completed) - min(completed)) if completed else 0,
        not_consented=participants.filter(condition__isnull=True, status=Participant.Status.ACTIVE).count(),
        declined=participants.filter(status=Participant.Status.DECLINED).count(),
        attention_failures=participants.filter(attention_failed=True).count(),
        median_completion_seconds=statistics.median(durations) if durations else None,
    )


def dashboard_grids(*, study: Study) -> list[dict[str, Any]]:
    """Stimulus grid readiness per condition (conditions with an uploaded image count as ready)."""
    grids = []
    for condition in study.conditions.select_related("stimulus_grid").order_by("order", "pk"):
        grid = condition.stimulus_grid
        if grid is None:
            image = bool(condition.stimulus_image)
            grids.append({"condition": condition.slug, "grid": None,
                          "name": "uploaded image" if image else "no stimulus",
                          "status": "ready" if image else "missing", "progress": 100 if image else 0,
                          "error": ""})
        else:
            grids.append({"condition": condition.slug, "grid": grid.pk, "name": grid.name,
                          "method": grid.method, "status": grid.status,
                          "progress": 100 if grid.is_ready else grid.progress, "error": grid.error})
    return grids


def dashboard_live(*, study: Study) -> dict[str, Any]:
    """Everything that changes while a study runs, as JSON for the dashboard's polling."""
    return {
        "study": study.slug,
        "status": study.status,
        "real": _population(study, simulated=False).as_json(),
        "simulated": _population(study, simulated=True).as_json(),
        "grids": dashboard_grids(study=study),
    }


def _https(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(("https", *parts[1:]))


def dashboard_setup(*, study: Study, request: HttpRequest | None = None) -> dict[str, Any]:
    """Recruitment snippets: Prolific study URL and completion URLs, the MTurk ExternalQuestion XML.

    Links start with PUBLIC_BASE_URL, or with the host this request reached when it is unset; a
    configured PUBLIC_BASE_URL naming another host is reported as `base_url_mismatch`."""
    base = public_base_url(request)
    entry = f"{base}{reverse('studies:entry', kwargs={'slug': study.slug})}"
    external_url = _https(entry)
    xml = (
        '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
        '2006-07-14/ExternalQuestion.xsd">\n'
        f"  <ExternalURL>{escape(external_url)}</ExternalURL>\n"
        "  <FrameHeight>0</FrameHeight>\n"
        "</ExternalQuestion>"
    )
    codes = completion_codes(study)
    return {
        "time_limit_minutes": study.time_limit_minutes,
        "platform": study.platform,
        "entry_url": entry,
        "prolific_url": f"{entry}?{PROLIFIC_QUERY}",
        "completion_codes": codes,
        "mturk_xml": xml,
        "mturk_url_rewritten": not entry.startswith("https://"),
        "base_url_mismatch": public_base_url_mismatch(request) if request is not None else "",
        "serving_base_url": request.build_absolute_uri("/").rstrip("/") if request is not None else "",
    }


def dashboard_links(*, study: Study) -> list[dict[str, str]]:
    slug = {"slug": study.slug}
    export = reverse("stats_api:export", kwargs=slug)
    return [
        {"label": "Analysis", "url": reverse("stats:analysis", kwargs=slug)},
        {"label": "Analysis including simulated participants",
         "url": reverse("stats:analysis", kwargs=slug) + "?" + urlencode({"include_simulated": 1})},
        {"label": "Sample-size planning", "url": reverse("stats:sample_size", kwargs=slug)},
        {"label": "Export: wide CSV with Prolific/MTurk ids (yours, to approve or reject; not to share)",
         "url": f"{export}?format=wide&identified=1"},
        {"label": "Export: long CSV with Prolific/MTurk ids (not to share)", "url": f"{export}?format=long&identified=1"},
        {"label": "Export: long CSV (one row per answer, pseudonymised: to share)", "url": f"{export}?format=long"},
        {"label": "Export: wide CSV (one row per participant, pseudonymised: to share)", "url": f"{export}?format=wide"},
        {"label": "Export: JSON", "url": f"{export}?format=json"},
        {"label": "Export: codebook", "url": f"{export}?format=codebook"},
        {"label": "API: participants", "url": reverse("studies_api:study-participants", kwargs=slug)},
        {"label": "Edit in the admin", "url": reverse("admin:studies_study_change", args=[study.pk])},
    ]


def dashboard_platform_statuses(*, study: Study) -> list[dict[str, Any]]:
    """Real participants counted by this platform's status beside the status Prolific last reported for their
    submission (empty when not yet read), so that disagreements stand out."""
    labels = dict(Participant.Status.choices)
    rows = (Participant.objects.filter(study=study, is_simulated=False)
            .values("status", "platform_status").annotate(n=Count("pk")).order_by("status", "platform_status"))
    return [{"status": labels.get(row["status"], row["status"]), "platform_status": row["platform_status"] or "\u2013",
             "count": row["n"]} for row in rows]


#: Most participants the dashboard lists for exclusion (the newest); the admin lists them all.
PARTICIPANT_LIST_LIMIT = 200


def dashboard_participants(*, study: Study) -> dict[str, Any]:
    """The study's real participants who got a condition, newest first, for excluding them with a reason."""
    participants = (Participant.objects.filter(study=study, is_simulated=False, condition__isnull=False)
                    .select_related("condition", "excluded_by").order_by("-started_at", "-pk"))
    return {"rows": list(participants[:PARTICIPANT_LIST_LIMIT]), "total": participants.count(),
            "limit": PARTICIPANT_LIST_LIMIT}


def dashboard_previews(*, study: Study) -> list[dict[str, str]]:
    """One preview link per condition (the owner sees each condition's pages; nothing is stored)."""
    return [{"slug": c.slug, "name": c.name,
             "url": reverse("dashboard:preview", kwargs={"slug": study.slug, "condition": c.slug, "page": "consent"})}
            for c in study.conditions.order_by("order", "pk")]
