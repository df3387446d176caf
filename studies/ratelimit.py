"""Abuse limits on the participant pages, beside DRF's throttles on the API (settings.REST_FRAMEWORK).

Counted in Django's cache (one fixed window per minute). With several web processes set CACHE_URL to a
shared Redis so that they count together; the local-memory default counts per process, which still bounds
a single client. A limit of 0 switches the check off (load tests simulate hundreds of people from one host).
"""
from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import AnonRateThrottle

WINDOW_SECONDS = 60


def client_address(request: HttpRequest) -> str:
    """The client's address as DRF's throttles see it (REMOTE_ADDR, or X-Forwarded-For behind NUM_PROXIES
    proxies), so the API and the participant pages count the same client alike."""
    return AnonRateThrottle().get_ident(request)


def limit_exceeded(scope: str, key: str, limit: int) -> bool:
    """Count one event of `key` in this minute's window; True once more than `limit` happened."""
    if limit <= 0:
        return False
    bucket = f"ratelimit:{scope}:{key}:{int(time.time() // WINDOW_SECONDS)}"
    if cache.add(bucket, 1, timeout=WINDOW_SECONDS + 5):
        return False
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=WINDOW_SECONDS + 5)
        return False
    return count > limit


def new_participant_limited(request: HttpRequest) -> bool:
    return limit_exceeded("entry", client_address(request), settings.PARTICIPANT_ENTRY_LIMIT_PER_MINUTE)


def participant_post_limited(participant_token: str) -> bool:
    return limit_exceeded("post", participant_token, settings.PARTICIPANT_POST_LIMIT_PER_MINUTE)
