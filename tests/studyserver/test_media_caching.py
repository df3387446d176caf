"""Media caching: content-addressed grid files carry their hash as ETag and are immutable for a year; a
revalidation with If-None-Match or If-Modified-Since is a 304 with the same headers; media are served
before the session, CSRF and authentication middleware (no cookie, no query)."""
from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studyserver.media import IMMUTABLE_CACHE, MUTABLE_CACHE

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n fake cell"
NAME = hashlib.sha256(PNG).hexdigest()[:20] + ".png"


@pytest.fixture
def grid_file(settings):
    folder = settings.MEDIA_ROOT / "grids" / "3" / "abcdef012345"
    folder.mkdir(parents=True)
    (folder / NAME).write_bytes(PNG)
    return f"/media/grids/3/abcdef012345/{NAME}"


def test_a_content_addressed_grid_file_is_immutable_with_its_hash_as_etag(client, grid_file):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(grid_file)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert response["Cache-Control"] == IMMUTABLE_CACHE
    assert response["ETag"] == f'"{NAME[:-4]}"'
    assert response["X-Content-Type-Options"] == "nosniff" and response["Content-Type"] == "image/png"
    assert "Set-Cookie" not in response and len(queries) == 0
    head = client.head(grid_file)
    assert head.status_code == 200 and head["ETag"] == response["ETag"]


def test_revalidation_is_a_304_with_the_same_cache_headers(client, grid_file):
    first = client.get(grid_file)
    for headers in ({"HTTP_IF_NONE_MATCH": first["ETag"]}, {"HTTP_IF_NONE_MATCH": f'W/{first["ETag"]}, "other"'},
                    {"HTTP_IF_MODIFIED_SINCE": first["Last-Modified"]}):
        again = client.get(grid_file, **headers)
        assert again.status_code == 304, headers
        assert again["ETag"] == first["ETag"] and again["Cache-Control"] == IMMUTABLE_CACHE
    # A different tag wins over a matching date: If-None-Match decides when both are sent.
    changed = client.get(grid_file, HTTP_IF_NONE_MATCH='"somethingelse"', HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert changed.status_code == 200


def test_other_uploads_get_a_stat_etag_and_a_short_lifetime(client, settings):
    (settings.MEDIA_ROOT / "stimuli").mkdir(parents=True)
    path = settings.MEDIA_ROOT / "stimuli" / "c0.png"
    path.write_bytes(PNG)
    response = client.get("/media/stimuli/c0.png")
    assert response.status_code == 200 and response["Cache-Control"] == MUTABLE_CACHE
    assert response["ETag"].startswith('"') and NAME[:-4] not in response["ETag"]
    assert client.get("/media/stimuli/c0.png", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    path.write_bytes(PNG + b"changed")
    assert client.get("/media/stimuli/c0.png", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 200


def test_bad_media_requests_change_nothing(client, grid_file):
    for bad in ("/media/../secret_key", "/media/%2e%2e/secret_key", "/media/grids/3/missing.png", "/media/grids/3"):
        assert client.get(bad).status_code == 404, bad
    assert client.post(grid_file).status_code == 405
