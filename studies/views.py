"""Participant pages: /s/<slug>/ entry, then /s/<slug>/p/<signed token>/<page>/.

Views stay thin: they translate between HTTP and studies.services; every rule lives in the services.
The participant is identified only by a signed random token in the URL (and, for plain links, a signed
cookie so that reopening the study link resumes), never by a row id.
"""
from __future__ import annotations

import json
import math
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import ratelimit, recruitment, selectors, services
from .designs.registry import design_for
from .forgery import PARTICIPANT_SIGNER_SALT as _SIGNER_SALT
from .forgery import participant_forgery_protected
from .models import FREE_TEXT_MAX_LENGTH, Participant, Study
from .page_texts import page_texts_for, page_texts_set

_COOKIE_MAX_AGE = 14 * 24 * 3600
#: How long the completion page shows the code before it sends a Prolific participant back to Prolific.
PROLIFIC_REDIRECT_SECONDS = 3
ITEM_FIELD_PREFIX = "item-"

UNAVAILABLE_MESSAGES = {
    "draft": "This study has not started yet.",
    "paused": "This study is paused at the moment. Please try again later.",
    "closed": "This study is closed and no longer takes participants.",
    "full": "This study is full: all places are taken. Thank you for your interest.",
}


def sign_token(participant: Participant) -> str:
    return signing.Signer(salt=_SIGNER_SALT).sign(participant.token)


def participant_url(participant: Participant, page: str | None = None) -> str:
    kwargs = {"slug": participant.study.slug, "ptoken": sign_token(participant)}
    if page is None:
        return reverse("studies:resume", kwargs=kwargs)
    return reverse("studies:page", kwargs={**kwargs, "page": page})


def _participant_from(slug: str, ptoken: str) -> Participant:
    try:
        token = signing.Signer(salt=_SIGNER_SALT).unsign(ptoken)
    except signing.BadSignature as exc:
        raise Http404("This study link is not valid.") from exc
    participant = selectors.participant_by_token(study_slug=slug, token=token)
    if participant is None:
        raise Http404("This study link is not valid.")
    return participant


def _message(request: HttpRequest, study: Study | None, title: str, text: str, status: int = 200) -> HttpResponse:
    return render(request, "studies/message.html", {"study": study, "title": title, "text": text}, status=status)


def _cookie_name(study: Study) -> str:
    return f"study_{study.pk}"


def _declined_page(request: HttpRequest, participant: Participant, *, status: int = 200) -> HttpResponse:
    code = services.completion_code(participant=participant)
    context = {"study": participant.study, "participant": participant, "code": code,
               "return_url": recruitment.prolific_completion_url(code) if code else ""}
    return render(request, "studies/declined.html", context, status=status)


def _finished_response(request: HttpRequest, participant: Participant) -> HttpResponse | None:
    if participant.status == Participant.Status.DECLINED:
        return _declined_page(request, participant)
    if participant.is_finished:
        return HttpResponseRedirect(participant_url(participant, "complete"))
    return None


@require_http_methods(["GET", "HEAD"])
def study_entry(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_object_or_404(Study, slug=slug)
    try:
        arrival = recruitment.parse_arrival(study, request.GET)
    except ValidationError as error:
        return _message(request, study, "This link is incomplete", " ".join(error.messages), status=400)
    if arrival.is_preview:
        return render(request, "studies/preview.html", {"study": study})
    participant = None
    if study.platform == Study.Platform.LINK:
        token = request.get_signed_cookie(_cookie_name(study), default=None, salt=_SIGNER_SALT)
        participant = selectors.participant_by_token(study_slug=study.slug, token=token) if token else None
    if participant is None:
        if ratelimit.new_participant_limited(request):
            response = _message(request, study, "Too many new participants from your network",
                                "Please wait a minute and open the study link again.", status=429)
            response["Retry-After"] = "60"
            return response
        try:
            participant = services.participant_enter(study=study, identity=arrival.identity)
        except services.StudyUnavailable as unavailable:
            return _message(request, study, study.title, UNAVAILABLE_MESSAGES[unavailable.reason])
    if participant.is_finished:
        return _message(request, study, "You have already taken part", "Our records show that you have "
                        "already completed this study, so you cannot take it again. Thank you!")
    finished = _finished_response(request, participant)
    if finished is not None:
        return finished
    response = HttpResponseRedirect(participant_url(participant, participant.current_page))
    response.set_signed_cookie(
        _cookie_name(study), participant.token, salt=_SIGNER_SALT, max_age=_COOKIE_MAX_AGE, httponly=True,
        samesite="Lax", secure=request.is_secure(),
    )
    return response


def participant_resume(request: HttpRequest, slug: str, ptoken: str) -> HttpResponse:
    participant = _participant_from(slug, ptoken)
    return HttpResponseRedirect(participant_url(participant, participant.current_page))


def answers_from_post(request: HttpRequest) -> dict[str, Any]:
    return {
        name[len(ITEM_FIELD_PREFIX):]: value
        for name, value in request.POST.items()
        if name.startswith(ITEM_FIELD_PREFIX)
    }


def _direction_from_post(request: HttpRequest) -> str:
    return "back" if request.POST.get("action") == "back" else "next"


def page_context(participant: Participant, page: str, answers: dict[str, Any], errors: dict[str, list[str]]):
    pages = design_for(participant.study).pages(participant=participant)
    index = pages.index(page) if page in pages else len(pages) - 1
    items = selectors.participant_page_items(participant=participant, page=page) if page in pages else []
    rows = []
    for item in items:
        value = answers.get(item.key)
        points = []
        if item.is_scaled:
            labels = item.labels if item.labels else [""] * item.scale_points
            points = [
                {"value": n, "label": labels[n - 1], "checked": str(value) == str(n)}
                for n in range(1, item.scale_points + 1)
            ]
        rows.append({"item": item, "value": "" if value is None else value, "points": points,
                     "errors": errors.get(item.key, []), "field": ITEM_FIELD_PREFIX + item.key})
    known = {item.key for item in items}
    return {
        "texts": page_texts_for(participant.study, participant.condition),
        "time_limit_minutes": participant.study.time_limit_minutes,
        "study": participant.study,
        "participant": participant,
        "condition": participant.condition,
        "page": page,
        "rows": rows,
        "page_errors": [m for key, messages in errors.items() if key not in known for m in messages],
        "progress": round(100 * index / max(len(pages) - 1, 1)),
        "step": index + 1,
        "steps": len(pages),
        "can_go_back": index > 1 and page != "complete",
        "is_last_question_page": index == len(pages) - 2,
        "save_url": reverse("studies:save", kwargs={"slug": participant.study.slug, "ptoken": sign_token(participant),
                                                    "page": page}),
        "text_limit": FREE_TEXT_MAX_LENGTH,
        "min_seconds_left": _min_seconds_left(participant, page),
    }


def _min_seconds_left(participant: Participant, page: str) -> int:
    """Seconds of the stimulus page's minimum viewing time still to go (server clock, so a reload does not
    restart the countdown)."""
    minimum = participant.study.min_stimulus_seconds
    if page != "stimulus" or not minimum:
        return 0
    if participant.pk is None:  # an owner's preview: nothing is timed on the server, the page counts down
        return minimum
    return max(math.ceil(minimum - selectors.participant_seconds_on_page(participant=participant, page=page)), 0)


def _render_page(request, participant, page, *, answers=None, errors=None, notice="", status=200) -> HttpResponse:
    # Consent and instructions ask nothing: no stored answers to show.
    stored = selectors.participant_answers(participant=participant) if page in selectors.QUESTION_PAGES else {}
    if answers:
        stored.update(answers)
    context = page_context(participant, page, stored, errors or {})
    context["notice"] = notice
    return render(request, page_template(page), context, status=status)


def page_template(page: str) -> str:
    return {"consent": "studies/consent.html", "instructions": "studies/instructions.html"}.get(
        page, "studies/questions.html"
    )


def _complete_page(request: HttpRequest, participant: Participant, *, refused: bool = False) -> HttpResponse:
    context = complete_context(participant, code=services.completion_code(participant=participant), refused=refused)
    return render(request, "studies/complete.html", context, status=409 if refused else 200)


def complete_context(participant: Participant, *, code: str, refused: bool = False) -> dict[str, Any]:
    """What the last page shows: the code, and where the participant goes next (Prolific, MTurk or nowhere)."""
    study = participant.study
    context: dict[str, Any] = {"study": study, "participant": participant, "code": code, "refused": refused,
                               "progress": 100, "texts": page_texts_for(study, participant.condition),
                               "redirect_seconds": PROLIFIC_REDIRECT_SECONDS,
                               # The default message suits a plain link only; a researcher's own is shown everywhere.
                               "own_completion_message": page_texts_set(study, participant.condition,
                                                                        "completion_message")}
    if study.platform == Study.Platform.PROLIFIC:
        # A page with the code that then sends the participant on, rather than an HTTP redirect: when the
        # redirect fails (a blocked script, a lost connection) the code is still on the screen to copy.
        context["redirect_url"] = recruitment.prolific_completion_url(code)
    elif study.platform == Study.Platform.MTURK:
        try:
            context["mturk_submit_url"] = recruitment.mturk_submit_url(participant.turk_submit_to)
        except ValidationError:
            context["mturk_submit_url"] = ""
    return context


@require_http_methods(["GET", "HEAD", "POST"])
@participant_forgery_protected
def participant_page(request: HttpRequest, slug: str, ptoken: str, page: str) -> HttpResponse:
    participant = _participant_from(slug, ptoken)
    design = design_for(participant.study)
    if page not in selectors.PAGE_SEQUENCE and page not in design.own_pages:
        raise Http404("No such page.")
    if participant.status == Participant.Status.DECLINED:
        return _declined_page(request, participant, status=409 if request.method == "POST" else 200)
    if participant.is_finished:
        if request.method == "POST":
            return _post_after_the_end(request, participant)
        if page != "complete":
            return HttpResponseRedirect(participant_url(participant, "complete"))
        return _complete_page(request, participant)
    if participant.status in (Participant.Status.RETURNED, Participant.Status.TIMED_OUT):
        participant = services.participant_resume(participant=participant)
    if page != participant.current_page:
        if request.method == "POST" and page in selectors.QUESTION_PAGES:
            return _post_of_an_earlier_page(request, participant, page)
        return HttpResponseRedirect(participant_url(participant, participant.current_page))
    if page in design.own_pages:
        return design.page_view(request, participant=participant, page=page)
    if request.method != "POST":
        services.page_visit_open(participant=participant, page=page)
        return _render_page(request, participant, page)
    return _handle_post(request, participant, page)


def _handle_post(request: HttpRequest, participant: Participant, page: str) -> HttpResponse:
    if page == "consent":
        choice = request.POST.get("consent")
        if choice not in ("yes", "no"):
            return _render_page(request, participant, page, errors={"consent": ["Please choose one option."]},
                                status=400)
        try:
            participant = services.participant_consent(participant=participant, agreed=choice == "yes")
        except services.StudyUnavailable as unavailable:
            return _message(request, participant.study, participant.study.title,
                            UNAVAILABLE_MESSAGES[unavailable.reason])
        if participant.status == Participant.Status.DECLINED:
            return _declined_page(request, participant)
        return HttpResponseRedirect(participant_url(participant, participant.current_page))
    answers = answers_from_post(request)
    direction = _direction_from_post(request)
    try:
        participant = services.participant_navigate(
            participant=participant, page=page, answers=answers, direction=direction
        )
    except services.StimulusTooEarly as too_early:
        return _render_page(request, participant, page, answers=answers, notice=too_early.messages[0],
                            status=400)
    except ValidationError as error:
        participant.refresh_from_db()
        if participant.is_finished:
            # A second POST of Finish (a double click) that lost the race to the first one.
            return _post_after_the_end(request, participant)
        return _render_page(request, participant, page, answers=answers, errors=error.message_dict, status=400)
    return HttpResponseRedirect(participant_url(participant, participant.current_page))


def _post_after_the_end(request: HttpRequest, participant: Participant) -> HttpResponse:
    """A retry or a double click of the submission that finished the study is answered like the original
    (the redirect to the completion page); anything else after the end is refused and changes nothing."""
    retry = services.submission_is_retry(participant=participant, answers=answers_from_post(request),
                                         direction=_direction_from_post(request))
    if retry:
        return HttpResponseRedirect(participant_url(participant, "complete"))
    return _complete_page(request, participant, refused=True)


def _post_of_an_earlier_page(request: HttpRequest, participant: Participant, page: str) -> HttpResponse:
    """A page the participant left earlier was submitted again (browser Back, an old tab): its answers are
    saved with their revisions, and the participant goes on where they were."""
    answers = answers_from_post(request)
    try:
        services.participant_revise_earlier_page(participant=participant, page=page, answers=answers)
    except services.PageOutOfDate:
        pass
    except services.ParticipantFinished:
        participant.refresh_from_db()
        if participant.is_finished:
            return _post_after_the_end(request, participant)
    except ValidationError as error:
        return _render_page(request, participant, page, answers=answers, errors=error.message_dict, status=400)
    return HttpResponseRedirect(participant_url(participant, participant.current_page))


@require_POST
@participant_forgery_protected
def participant_save(request: HttpRequest, slug: str, ptoken: str, page: str) -> JsonResponse:
    """Autosave one or more answers of the current page (JSON {"answers": {item key: value}})."""
    participant = _participant_from(slug, ptoken)
    try:
        payload = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"errors": {"answers": ["Send a JSON object."]}}, status=400)
    answers = payload.get("answers") if isinstance(payload, dict) else None
    if not isinstance(answers, dict):
        return JsonResponse({"errors": {"answers": ["Send {\"answers\": {item key: value}}."]}}, status=400)
    try:
        saved = services.responses_autosave(participant=participant, page=page, answers=answers)
    except (services.ParticipantFinished, services.PageOutOfDate) as error:
        return JsonResponse({"errors": error.message_dict}, status=409)
    except ValidationError as error:
        return JsonResponse({"errors": error.message_dict}, status=400)
    return JsonResponse({"saved": sorted(response.item.key for response in saved)})



@require_http_methods(["GET", "HEAD", "POST"])
@participant_forgery_protected
def participant_withdraw(request: HttpRequest, slug: str, ptoken: str, page: str) -> HttpResponse:
    """Withdraw from the study at any point: GET asks for confirmation, POST deletes the participant's data."""
    participant = _participant_from(slug, ptoken)
    study = participant.study
    if participant.status == Participant.Status.WITHDRAWN:
        return render(request, "studies/withdrawn.html", {"study": study, "code": services.completion_code(
            participant=participant)})
    if request.method != "POST":
        return render(request, "studies/withdraw.html", {
            "study": study, "participant": participant,
            "back_url": participant_url(participant, participant.current_page),
        })
    participant = services.participant_withdraw(participant=participant)
    return render(request, "studies/withdrawn.html", {"study": study, "code": services.completion_code(
        participant=participant)})
