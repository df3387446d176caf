"""The design's participant pages (instructions, trials), reached through StudyDesign.page_view after the
shared checks of studies.views (signed token, finished sessions, current page), and the researcher's export.

Views translate HTTP to the services: a refused submission re-renders the page with a 4xx status and the
message, and nothing is stored.
"""
from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from studies.models import Participant, Study
from studies.services import ParticipantFinished, page_visit_open
from studies.views import participant_url

from . import selectors, services
from .exports import TRIAL_EXPORT_COLUMNS, trial_export_rows
from .models import TrialRating, TrialSetup

_STEPS = 4  # consent, instructions, trials, complete


def _base_context(participant: Participant, page: str, progress: int) -> dict:
    return {"study": participant.study, "participant": participant, "page": page, "progress": progress,
            "page_errors": []}


def _errors(error: ValidationError) -> list[str]:
    return [message for messages in error.message_dict.values() for message in messages] \
        if hasattr(error, "error_dict") else list(error.messages)


def instructions_page(request: HttpRequest, *, participant: Participant) -> HttpResponse:
    setup = TrialSetup.objects.get(study_id=participant.study_id)
    status = 200
    errors: list[str] = []
    if request.method == "POST":
        try:
            participant = services.instructions_leave(participant=participant)
        except (ParticipantFinished, services.TrialOutOfOrder):
            return HttpResponseRedirect(participant_url(participant, participant.current_page))
        except ValidationError as error:
            errors, status = _errors(error), 400
        else:
            return HttpResponseRedirect(participant_url(participant, participant.current_page))
    page_visit_open(participant=participant, page=services.INSTRUCTIONS_PAGE)
    context = {**_base_context(participant, services.INSTRUCTIONS_PAGE, 25), "page_errors": errors,
               "setup": setup, "examples": selectors.instruction_examples(study=participant.study),
               "trials": selectors.trial_count(participant=participant)}
    return render(request, "trials/instructions.html", context, status=status)


def _answers_from_post(request: HttpRequest) -> dict[str, str]:
    return {key: request.POST[key] for key in (TrialRating.FIRST, TrialRating.SECOND) if key in request.POST}


def trials_page(request: HttpRequest, *, participant: Participant) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    posted: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        posted = _answers_from_post(request)
        position = request.POST.get("trial", "")
        direction = "back" if request.POST.get("action") == "back" else "next"
        try:
            participant, _ = services.trial_answer(participant=participant, position=position, answers=posted,
                                                   direction=direction)
        except services.TrialOutOfOrder as error:
            participant.refresh_from_db()
            if services.submission_is_retry(participant=participant, position=position, answers=posted):
                return HttpResponseRedirect(participant_url(participant, participant.current_page))
            errors, status, posted = error.message_dict, 409, {}
        except ParticipantFinished:
            return HttpResponseRedirect(participant_url(participant, participant.current_page))
        except ValidationError as error:
            errors, status = error.message_dict, 400
        else:
            url = participant_url(participant, participant.current_page)
            revealed = participant.current_page == services.TRIALS_PAGE and direction == "next" \
                and TrialRating.SECOND not in posted
            return HttpResponseRedirect(url + ("#explanation-2" if revealed else ""))
    page_visit_open(participant=participant, page=services.TRIALS_PAGE)
    return _render_trial(request, participant, posted=posted, errors=errors, status=status)


def _render_trial(request, participant, *, posted, errors, status) -> HttpResponse:
    trial = selectors.current_trial(participant=participant)
    setup = TrialSetup.objects.get(study_id=participant.study_id)
    total = selectors.trial_count(participant=participant)
    prediction = trial.pool_image.prediction
    shown_fields = {TrialRating.FIRST, TrialRating.SECOND} if trial.first_rating is not None else {TrialRating.FIRST}

    def scale(labels, stored, key):
        chosen = posted.get(key, stored)
        return [{"value": n, "label": label, "checked": str(chosen) == str(n)} for n, label in enumerate(labels, 1)]

    context = {
        **_base_context(participant, services.TRIALS_PAGE, 25 + round(70 * (trial.position - 1) / max(total, 1))),
        "page_errors": [m for key, messages in errors.items() if key not in shown_fields for m in messages],
        "errors": errors, "trial": trial, "total": total, "setup": setup,
        "prediction_sentence": setup.prediction_template.format(prediction=prediction),
        "first_explanation": selectors.explanation_image(method=trial.first_method, trial=trial),
        "second_explanation": selectors.explanation_image(method=trial.second_method, trial=trial),
        "second_question": setup.second_question.format(prediction=prediction),
        "first_points": scale(setup.first_labels, trial.first_rating, TrialRating.FIRST),
        "second_points": scale(setup.second_labels, trial.second_rating, TrialRating.SECOND),
        "show_second": trial.first_rating is not None,
        "is_last": trial.position == total,
    }
    return render(request, "trials/trial.html", context, status=status)


@login_required
def trials_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    """Every participant's stored trial list with their ratings, as CSV (the study's owner only)."""
    study = get_object_or_404(Study, slug=slug)
    if study.owner_id != request.user.pk and not request.user.is_superuser:
        raise PermissionDenied("Only the study's owner can export its trials.")
    include_simulated = request.GET.get("include_simulated") in ("1", "true", "yes")

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())
    rows = (writer.writerow(row) for row in
            [TRIAL_EXPORT_COLUMNS, *([r[c] for c in TRIAL_EXPORT_COLUMNS]
                                     for r in trial_export_rows(study=study, include_simulated=include_simulated))])
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-trials.csv"'
    return response
