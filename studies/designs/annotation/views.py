"""The annotate page: one item per view; a click on an image (pairs) or an answer (multiple choice) votes.

Reached through studies.views.participant_page after the shared checks (signed token, finished or declined
participants, current page), so this view only shows the next item and stores votes through the services.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from studies import services as study_services
from studies.models import Participant
from studies.views import participant_url

from . import services
from .models import AnnotationAllocation


def validation_messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [message for messages in error.message_dict.values() for message in messages]
    return list(error.messages)


def _render_item(request: HttpRequest, participant: Participant, allocation: AnnotationAllocation, *,
                 errors: list[str] | None = None, status: int = 200) -> HttpResponse:
    item = allocation.item
    images = {image.position: image for image in item.images.all()}
    shown = [images[position] for position in allocation.placement if position in images] or list(images.values())
    total = participant.annotation_allocations.filter(released_at__isnull=True).count()
    answered = participant.annotation_votes.count()
    context = {
        "study": participant.study,
        "participant": participant,
        "allocation": allocation,
        "item": item,
        "task": item.task,
        "images": [{"position": image.position, "url": image.url, "caption": image.caption,
                    "side": side + 1} for side, image in enumerate(shown)],
        "choices": [] if item.task.is_two_alternative else list(item.task.choices),
        "number": answered + 1,
        "total": total,
        "progress": round(100 * answered / max(total, 1)),
        "page_errors": errors or [],
    }
    return render(request, "annotation/annotate.html", context, status=status)


def annotate_page(request: HttpRequest, *, participant: Participant) -> HttpResponse:
    if request.method == "POST":
        return _vote(request, participant)
    services.allocations_refresh(participant=participant)
    allocation = services.allocations_open(participant=participant).first()
    if allocation is None:
        participant = services.annotation_finish(participant=participant)
        return HttpResponseRedirect(participant_url(participant, participant.current_page))
    study_services.page_visit_open(participant=participant, page=services.ANNOTATE_PAGE)
    return _render_item(request, participant, services.allocation_show(allocation=allocation))


def _vote(request: HttpRequest, participant: Participant) -> HttpResponse:
    try:
        outcome = services.vote_submit(participant=participant, position=request.POST.get("position"),
                                       choice=request.POST.get("choice"))
    except study_services.PageOutOfDate:
        participant.refresh_from_db()
        return HttpResponseRedirect(participant_url(participant, participant.current_page))
    except (study_services.ParticipantFinished, services.VoteConflict) as error:
        return _current_item_or_end(request, participant, validation_messages(error), status=409)
    except ValidationError as error:
        return _current_item_or_end(request, participant, validation_messages(error), status=400)
    return HttpResponseRedirect(participant_url(outcome.participant, outcome.participant.current_page))


def _current_item_or_end(request: HttpRequest, participant: Participant, errors: list[str], *, status: int):
    participant.refresh_from_db()
    allocation = services.allocations_open(participant=participant).first()
    if allocation is None or participant.status != Participant.Status.ACTIVE:
        return render(request, "studies/message.html", {
            "study": participant.study, "title": "Nothing was saved", "text": " ".join(errors)}, status=status)
    return _render_item(request, participant, allocation, errors=errors, status=status)
