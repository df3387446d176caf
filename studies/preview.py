"""The owner's preview: every page of a condition exactly as its participants see it, for a draft or a
live study, without a participant record.

The pages are rendered from an unsaved Participant of the chosen condition, so answers are checked as they
would be (a missing required answer, an out-of-range value) but nothing is stored, no place is taken and no
analysis, export or count ever sees a preview. Only the study's owner (or a superuser) may preview; anybody
else gets the dashboard's 404, and nothing changes.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from . import dashboard_selectors, services
from .designs.registry import design_for
from .models import Condition, Participant, Study
from .views import answers_from_post, complete_context, page_context, page_template


def preview_url(study: Study, condition: Condition, page: str = "consent") -> str:
    return reverse("dashboard:preview", kwargs={"slug": study.slug, "condition": condition.slug, "page": page})


def _preview_participant(study: Study, condition_slug: str) -> Participant:
    condition = study.conditions.filter(slug=condition_slug).first()
    if condition is None:
        raise Http404(f"The study {study.slug!r} has no condition {condition_slug!r}.")
    return Participant(study=study, condition=condition, platform=study.platform)


def _pages(participant: Participant) -> list[str]:
    design = design_for(participant.study)
    # A design's own pages (trials, annotation) need a stored allocation; the preview shows the shared pages.
    return [page for page in design.pages(participant=participant) if page not in design.own_pages]


def _context(request: HttpRequest, participant: Participant, page: str, **extra) -> dict:
    study = participant.study
    return {
        "preview": True,
        "preview_conditions": [{"slug": c.slug, "name": c.name, "url": preview_url(study, c),
                                "current": c.pk == participant.condition_id}
                               for c in study.conditions.order_by("order", "pk")],
        "dashboard_url": reverse("dashboard:study", kwargs={"slug": study.slug}),
        **extra,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def study_preview(request: HttpRequest, slug: str, condition: str, page: str) -> HttpResponse:
    study = dashboard_selectors.dashboard_study_for(user=request.user, slug=slug)
    participant = _preview_participant(study, condition)
    pages = _pages(participant)
    if page not in pages:
        raise Http404(f"Participants of this condition have no page {page!r}.")
    index = pages.index(page)
    if page == "complete":
        context = complete_context(participant, code=study.completion_code)
        context.update(_context(request, participant, page))
        return render(request, "studies/complete.html", context)
    if request.method != "POST":
        return _render(request, participant, page, {}, {})
    if page == "consent":
        if request.POST.get("consent") == "no":
            return render(request, "studies/message.html", {
                **_context(request, participant, page), "study": study, "title": "Declined (preview)",
                "text": "A participant who declines leaves here with the declined code; nothing of them is kept."})
        return HttpResponseRedirect(preview_url(study, participant.condition, pages[index + 1]))
    if request.POST.get("action") == "back" and index > 1:
        return HttpResponseRedirect(preview_url(study, participant.condition, pages[index - 1]))
    answers = answers_from_post(request)
    if page != "instructions":
        try:
            services.answers_validate(participant=participant, page=page, answers=answers, require_complete=True)
        except ValidationError as error:
            return _render(request, participant, page, answers, error.message_dict, status=400)
    return HttpResponseRedirect(preview_url(study, participant.condition, pages[index + 1]))


def _render(request, participant, page, answers, errors, status=200) -> HttpResponse:
    context = page_context(participant, page, answers, errors)
    context.update(_context(request, participant, page), save_url="", notice="")
    return render(request, page_template(page), context, status=status)
