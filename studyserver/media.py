"""Media files (stimulus images, grid cells) for deployments without a reverse proxy in front.

In production (STUDYSERVER_HTTPS) the proxy serves MEDIA_ROOT and this view is not routed (SERVE_MEDIA off);
docs/RELIABILITY.md has the nginx block. Either way the cache headers are the same: a published grid lives
in grids/<id>/<random build id>/ and is never rewritten (a rebuild gets a new directory), so its files are
cached for a year as immutable; other uploads for an hour.
"""
from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotModified
from django.utils._os import safe_join
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_safe

#: Paths of published grid builds: immutable once written.
IMMUTABLE_MEDIA = re.compile(r"^grids/\d+/[0-9a-f]{12}/")
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
MUTABLE_CACHE = "public, max-age=3600"


def cache_control_for(path: str) -> str:
    return IMMUTABLE_CACHE if IMMUTABLE_MEDIA.match(path) else MUTABLE_CACHE


@require_safe
def media_file(request: HttpRequest, path: str) -> FileResponse | HttpResponseNotModified:
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, path))
    except (ValueError, Exception):  # SuspiciousFileOperation for ../ escapes
        raise Http404("No such file.") from None
    if not full.is_file():
        raise Http404("No such file.")
    stat = full.stat()
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    if since is not None and int(stat.st_mtime) <= since:
        response = HttpResponseNotModified()
    else:
        content_type, encoding = mimetypes.guess_type(str(full))
        response = FileResponse(full.open("rb"), content_type=content_type or "application/octet-stream")
        if encoding:
            response.headers["Content-Encoding"] = encoding
    response.headers["Last-Modified"] = http_date(stat.st_mtime)
    response.headers["Cache-Control"] = cache_control_for(path)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
