"""Forgery protection for participant forms without cookies.

MTurk shows a study inside an iframe on mturk.com. There browsers withhold SameSite=Lax cookies and Safari
(and Chromium with third-party cookies blocked) sends none at all, so Django's cookie-based CSRF check would
refuse every participant POST. On participant pages the credential is not a cookie but the signed random
token in the URL, so the forgery token is bound to it instead: an HMAC (keyed with SECRET_KEY) of the
participant's token and the page. Why that is as strong as Django's check is in docs/RELIABILITY.md
("Participant pages without cookies").

The token travels in the usual ``csrfmiddlewaretoken`` field (``{% csrf_token %}`` renders it on participant
pages through ``participant_form_token_context``) or the ``X-CSRFToken`` header, so every client written for
Django's CSRF (the page's autosave script, the simulated participants, the load benchmark) keeps working.
Only the views wrapped by ``participant_forgery_protected`` are exempt from the cookie check; every other
view, the researcher API and the admin included, keeps Django's CSRF middleware.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.csrf import csrf_exempt

from .ratelimit import participant_post_limited

PARTICIPANT_SIGNER_SALT = "studies.participant"
_FORM_TOKEN_SALT = "studies.participant.form-token"
FORM_FIELD = "csrfmiddlewaretoken"
FORM_HEADER = "HTTP_X_CSRFTOKEN"


def participant_token_from_signed(ptoken: str) -> str | None:
    """The participant's raw token from the signed URL segment; None when the signature is wrong."""
    try:
        return signing.Signer(salt=PARTICIPANT_SIGNER_SALT).unsign(ptoken)
    except signing.BadSignature:
        return None


def form_token_for(*, participant_token: str, page: str) -> str:
    """The forgery token of one participant's page: unforgeable without SECRET_KEY, useless on another
    participant's or another page's form."""
    return salted_hmac(_FORM_TOKEN_SALT, f"{participant_token}\x00{page}", algorithm="sha256").hexdigest()


def _origin_is_foreign(request: HttpRequest) -> bool:
    """A browser names the page a form came from in Origin; one from another site is refused outright.

    The iframe's own document is on this site, so MTurk's framing does not change the Origin of its posts.
    """
    origin = request.META.get("HTTP_ORIGIN")
    if not origin or origin == "null":
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return False
    return urlsplit(origin).netloc != request.get_host()


def _refused(request: HttpRequest, reason: str, *, status: int = 403) -> HttpResponse:
    if request.content_type == "application/json":
        return JsonResponse({"errors": {"form": [reason]}}, status=status)
    response = render(request, "studies/message.html", {"title": "This form could not be accepted", "text": reason},
                      status=status)
    if status == 429:
        response["Retry-After"] = "60"
    return response


def participant_forgery_protected(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Check the participant-bound form token on every POST instead of Django's CSRF cookie.

    The view must take ``ptoken`` and ``page`` keyword arguments. A missing or wrong token answers 403 and
    never reaches the view, so nothing changes. Django's test client without ``enforce_csrf_checks`` skips
    the check exactly as it skips Django's own.
    """

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        participant_token = participant_token_from_signed(kwargs.get("ptoken", ""))
        page = kwargs.get("page", "")
        if participant_token is not None:
            request.participant_form_token = form_token_for(participant_token=participant_token, page=page)
            request.participant_withdraw_url = reverse(
                "studies:withdraw", kwargs={"slug": kwargs.get("slug", ""), "ptoken": kwargs["ptoken"]})
        if request.method == "POST" and participant_token is not None and participant_post_limited(participant_token):
            return _refused(request, "Too many submissions in a short time. Please wait a minute and try again; "
                                     "your answers so far are saved.", status=429)
        if request.method == "POST" and not getattr(request, "_dont_enforce_csrf_checks", False):
            if participant_token is None:
                return view(request, *args, **kwargs)  # the view answers 404 for a bad link
            if _origin_is_foreign(request):
                return _refused(request, "This form was sent from another website. Please use the study page.")
            sent = request.POST.get(FORM_FIELD, "") if request.content_type != "application/json" else ""
            sent = sent or request.META.get(FORM_HEADER, "")
            if not constant_time_compare(sent, request.participant_form_token):
                return _refused(request, "This form does not belong to this page of your study (it may be an "
                                         "old copy). Please reload the page and try again; nothing was changed.")
        return view(request, *args, **kwargs)

    return wrapped


def participant_form_token_context(request: HttpRequest) -> dict[str, str]:
    """Template context processor: on participant pages ``{% csrf_token %}`` renders the participant-bound
    token (and no CSRF cookie is set) and ``withdraw_url`` links to withdrawal; elsewhere nothing changes."""
    token = getattr(request, "participant_form_token", None)
    if not token:
        return {}
    return {"csrf_token": token, "withdraw_url": request.participant_withdraw_url}
