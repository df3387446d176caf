"""Turn a lost database connection into a clear 503 page instead of a traceback."""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, close_old_connections
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.error("database unavailable: %s", exception)
        # Drop the broken connection so the next request reconnects.
        close_old_connections()
        body = render_to_string("503.html", {"path": request.path})
        response = HttpResponse(body, status=503)
        response["Retry-After"] = "10"
        return response



class ParticipantFramingMiddleware:
    """Let MTurk frame the participant pages (ExternalQuestion HITs run in an iframe on mturk.com), and
    nothing else: every other page keeps X-Frame-Options DENY.

    Modern browsers obey CSP frame-ancestors over X-Frame-Options, so the participant pages name exactly the
    sites that may embed them: MTURK_FRAME_ANCESTORS (the worker sites) and the MTURK_SUBMIT_HOSTS.
    """

    PARTICIPANT_PREFIX = "/s/"

    def __init__(self, get_response):
        self.get_response = get_response

    @staticmethod
    def policy() -> str:
        from django.conf import settings

        sources = list(dict.fromkeys(
            [*settings.MTURK_FRAME_ANCESTORS, *(f"https://{host}" for host in settings.MTURK_SUBMIT_HOSTS)]
        ))
        return " ".join(["frame-ancestors 'self'", *sources])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(self.PARTICIPANT_PREFIX):
            response.xframe_options_exempt = True
            response.setdefault("Content-Security-Policy", self.policy())
        return response
