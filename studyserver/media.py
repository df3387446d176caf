"""Media files (stimulus images, grid cells) for deployments without a reverse proxy in front.

In production (STUDYSERVER_HTTPS) the proxy serves MEDIA_ROOT and none of this runs (SERVE_MEDIA off);
docs/RELIABILITY.md has the nginx block. Either way the cache headers are the same: a published grid lives
in grids/<id>/<random build id>/ and is never rewritten (a rebuild gets a new directory), and its cell
images are named by the SHA-256 of their bytes (explainers/core/stimuli/manifest.py), so its files are
cached for a year as immutable; other uploads for an hour. Every file carries an ETag (the content hash
where the name is one, else its modification time and size) and Last-Modified, so a revalidation is a 304.

A grid page makes a browser load 150 cell images, so they are served by ``MediaMiddleware`` at the top of
the middleware stack: no URL resolution, no session, CSRF or authentication work for a public file.
"""
from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import (FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed,
                         HttpResponseNotModified)
from django.utils._os import safe_join
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe

#: Paths of published grid builds: immutable once written.
IMMUTABLE_MEDIA = re.compile(r"^grids/\d+/[0-9a-f]{12}/")
#: A content-addressed file name: hex digits of the SHA-256 of the bytes, then the extension.
CONTENT_ADDRESSED = re.compile(r"(?:^|/)([0-9a-f]{20,64})\.[A-Za-z0-9]+$")
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
MUTABLE_CACHE = "public, max-age=3600"


def cache_control_for(path: str) -> str:
    return IMMUTABLE_CACHE if IMMUTABLE_MEDIA.match(path) else MUTABLE_CACHE


def etag_for(path: str, stat) -> str:
    """A strong ETag: the content hash a content-addressed name carries, else modification time and size."""
    named = CONTENT_ADDRESSED.search(path)
    if named:
        return f'"{named.group(1)}"'
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _not_modified(request: HttpRequest, etag: str, mtime: float) -> bool:
    """RFC 9110 section 13.2.2: If-None-Match decides when present; else If-Modified-Since."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and int(mtime) <= since


def _serve(request: HttpRequest, path: str) -> HttpResponse:
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, path))
    except Exception:  # SuspiciousFileOperation for ../ escapes
        raise Http404("No such file.") from None
    try:
        stat = full.stat()
    except (OSError, ValueError):
        raise Http404("No such file.") from None
    if not full.is_file():
        raise Http404("No such file.")
    etag = etag_for(path, stat)
    if _not_modified(request, etag, stat.st_mtime):
        response: HttpResponse = HttpResponseNotModified()
    else:
        content_type, encoding = mimetypes.guess_type(str(full))
        response = FileResponse(full.open("rb"), content_type=content_type or "application/octet-stream")
        if encoding:
            response.headers["Content-Encoding"] = encoding
    response.headers["ETag"] = etag
    response.headers["Last-Modified"] = http_date(stat.st_mtime)
    response.headers["Cache-Control"] = cache_control_for(path)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def media_file(request: HttpRequest, path: str) -> HttpResponse:
    return _serve(request, path)


class MediaMiddleware:
    """Serve MEDIA_URL before the rest of the stack when SERVE_MEDIA is on (the same responses as media_file)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = settings.MEDIA_URL if settings.MEDIA_URL.startswith("/") else "/" + settings.MEDIA_URL
        if not settings.SERVE_MEDIA or self.prefix == "/":
            raise MiddlewareNotUsed  # the reverse proxy serves media

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefix):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        try:
            return _serve(request, request.path_info[len(self.prefix):])
        except Http404:
            return HttpResponse("No such file.", status=404, content_type="text/plain; charset=utf-8")
