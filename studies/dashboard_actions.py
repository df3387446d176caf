"""What the owner does from the dashboard: launch, pause, duplicate, exclude or re-include a participant,
delete the test runs of an unlaunched study. Every action is a POST (Django's CSRF check applies), only for
the study's owner (anybody else gets the dashboard's 404); a refused action changes nothing and says why.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import dashboard_selectors, services
from .models import Participant


def _back(study_slug: str, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("dashboard:study", kwargs={"slug": study_slug}) + anchor)


def _refused(request: HttpRequest, what: str, error: ValidationError) -> None:
    messages.error(request, f"{what}: {' '.join(error.messages)} Nothing was changed.")


def _change_status(request: HttpRequest, slug: str, service, refused: str, done: str) -> HttpResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    try:
        service(study=study)
    except ValidationError as error:
        _refused(request, refused, error)
    else:
        messages.success(request, done)
    return _back(slug)


@require_POST
@login_required
def study_launch(request: HttpRequest, slug: str) -> HttpResponse:
    return _change_status(request, slug, services.study_launch, "Not launched",
                          "The study is live: participants can start.")


@require_POST
@login_required
def study_pause(request: HttpRequest, slug: str) -> HttpResponse:
    return _change_status(request, slug, services.study_pause, "Not paused",
                          "The study is paused: nobody new can start; those taking it can finish.")


@require_POST
@login_required
def study_duplicate(request: HttpRequest, slug: str) -> HttpResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    new_slug = request.POST.get("slug", "").strip() or services.study_duplicate_slug(study=study)
    try:
        copy = services.study_duplicate(study=study, slug=new_slug, owner=request.user)
    except ValidationError as error:
        _refused(request, "Not duplicated", error)
        return _back(slug)
    messages.success(request, f"A draft copy of {study.slug!r} was created as {copy.slug!r}.")
    return _back(copy.slug)


@require_POST
@login_required
def test_participants_delete(request: HttpRequest, slug: str) -> HttpResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    try:
        count = services.study_delete_test_participants(study=study)
    except ValidationError as error:
        _refused(request, "Test participants not deleted", error)
    else:
        messages.success(request, f"{count} test participant(s) deleted.")
    return _back(slug)


@require_POST
@login_required
def participant_exclusion(request: HttpRequest, slug: str, participant: int) -> HttpResponse:
    """Exclude (with the posted reason) or, with include=1, re-include one participant of the study."""
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    record = Participant.objects.filter(study=study, pk=participant).first()
    if record is None:
        raise Http404("This study has no such participant.")
    if request.POST.get("include"):
        services.participant_include(participant=record)
        messages.success(request, f"Participant #{record.pk} counts again.")
        return _back(slug, "#participants")
    try:
        services.participant_exclude(participant=record, reason=request.POST.get("reason", ""), by=request.user)
    except ValidationError as error:
        _refused(request, f"Participant #{record.pk} not excluded", error)
    else:
        messages.success(request, f"Participant #{record.pk} is excluded from analyses and flagged in exports.")
    return _back(slug, "#participants")
