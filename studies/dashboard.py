"""Researcher dashboard: a study's live counts, grid readiness, links and recruitment snippets.

Only the study's owner (or a superuser) sees it; anybody else gets a 404, so the page does not reveal
which study slugs exist. Reads live in dashboard_selectors.py; the page polls live.json every few seconds.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from . import dashboard_selectors
from .designs.registry import design_for

#: How often the page refreshes its counts (milliseconds).
POLL_INTERVAL_MS = 5000


def duration_text(seconds: float | None) -> str:
    """12 min 5 s; an en dash when nobody has completed yet (the dashboard.js formatDuration twin)."""
    if seconds is None:
        return "\u2013"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _table(population: dict) -> dict:
    """A population's counts shaped for the template: cells in COUNT_COLUMNS order."""
    columns = dashboard_selectors.COUNT_COLUMNS
    return {
        **population,
        "conditions": [
            {**row, "cells": [{"column": column, "value": row[column]} for column in columns]}
            for row in population["conditions"]
        ],
        "total_cells": [{"column": column, "value": population["totals"][column]} for column in columns],
        "median_completion_text": duration_text(population["median_completion_seconds"]),
    }


@require_GET
@login_required
def study_index(request: HttpRequest) -> HttpResponse:
    studies = dashboard_selectors.dashboard_studies_for(user=request.user)
    return render(request, "studies/dashboard_index.html", {"studies": studies})


@require_GET
@login_required
def study_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    live = dashboard_selectors.dashboard_live(study=study)
    context = {
        "study": study,
        "live": live,
        "real": _table(live["real"]),
        "simulated": _table(live["simulated"]),
        "columns": dashboard_selectors.COUNT_COLUMNS,
        "setup": dashboard_selectors.dashboard_setup(study=study, request=request),
        "links": dashboard_selectors.dashboard_links(study=study),
        "previews": dashboard_selectors.dashboard_previews(study=study),
        "participants": dashboard_selectors.dashboard_participants(study=study),
        "simulated_count": study.participants.filter(is_simulated=True).count(),
        "platform_statuses": dashboard_selectors.dashboard_platform_statuses(study=study),
        "poll_interval_ms": POLL_INTERVAL_MS,
        # The design's own panel: its template is in design_template.
        **design_for(study).dashboard_context(study=study),
    }
    return render(request, "studies/dashboard.html", context)


@require_GET
@login_required
def study_dashboard_live(request: HttpRequest, slug: str) -> JsonResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    response = JsonResponse(dashboard_selectors.dashboard_live(study=study))
    response["Cache-Control"] = "no-store"
    return response
