"""Media files: never through django.views.static.serve; published grid files cached for a year as
immutable, other uploads for an hour; no path escapes MEDIA_ROOT."""
from __future__ import annotations

import pytest
from django.urls import get_resolver
from django.views.static import serve


def _callbacks(resolver):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _callbacks(pattern)
        else:
            yield pattern.callback


def test_no_url_is_served_by_django_static_serve():
    assert serve not in set(_callbacks(get_resolver()))


@pytest.mark.django_db
def test_grid_files_are_immutable_and_uploads_cached_briefly(client, settings):
    grid = settings.MEDIA_ROOT / "grids" / "7" / "0123456789ab"
    grid.mkdir(parents=True)
    (grid / "cell.png").write_bytes(b"\x89PNG fake")
    (settings.MEDIA_ROOT / "stimuli").mkdir()
    (settings.MEDIA_ROOT / "stimuli" / "c0.png").write_bytes(b"\x89PNG fake")
    response = client.get("/media/grids/7/0123456789ab/cell.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert b"".join(response.streaming_content) == b"\x89PNG fake"
    upload = client.get("/media/stimuli/c0.png")
    assert upload.status_code == 200 and upload["Cache-Control"] == "public, max-age=3600"
    again = client.get("/media/stimuli/c0.png", HTTP_IF_MODIFIED_SINCE=upload["Last-Modified"])
    assert again.status_code == 304
    for bad in ("/media/../secret_key", "/media/%2e%2e/secret_key", "/media/stimuli/missing.png"):
        assert client.get(bad).status_code == 404
    assert client.post("/media/stimuli/c0.png").status_code == 405
