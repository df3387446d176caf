"""Values built once per web process and rebuilt when what they were built from changes.

Participant pages read the same fixed structure of a study on every request (its items, a stimulus grid
rendered to HTML). Each process keeps what it built in memory, keyed by a version stamp that lives in
Django's cache; whoever changes the underlying rows calls ``invalidate`` (the apps connect it to their
models' save and delete signals), which writes a new stamp. With a shared cache (CACHE_URL=redis://..., which
the participant rate limits want as well) every process sees a new stamp at its next request. With the
local-memory default only the process that made the change sees it at once; the others rebuild after
``PROCESS_CACHE_MAX_AGE`` seconds at the latest, so a typo fixed in the admin reaches every process within
that time. Nothing a participant submits is cached: only what researchers configure.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Callable, Generic, Hashable, TypeVar

from django.conf import settings
from django.core.cache import cache

Value = TypeVar("Value")

#: Entries per cache kept in memory; the oldest go first (a process serves a handful of live studies).
MAX_ENTRIES = 256


class ProcessCache(Generic[Value]):
    """``get(key, build)`` returns the value built for ``key`` under its current version stamp (and, where
    given, the same ``fingerprint``: something the caller read anyway that changes with the value)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._entries: dict[Hashable, tuple[str, Hashable, float, Value]] = {}
        self._lock = threading.Lock()

    def _stamp_key(self, key: Hashable) -> str:
        return f"process-cache:{self.namespace}:{key}"

    def stamp(self, key: Hashable) -> str:
        """The current version stamp of ``key`` (created on first use, and again if the cache evicted it)."""
        stamp = cache.get(self._stamp_key(key))
        if stamp is None:
            cache.add(self._stamp_key(key), uuid.uuid4().hex, timeout=None)
            stamp = cache.get(self._stamp_key(key)) or ""
        return stamp

    def get(self, key: Hashable, build: Callable[[], Value], *, fingerprint: Hashable = None) -> Value:
        stamp = self.stamp(key)
        now = time.monotonic()
        entry = self._entries.get(key)
        if (entry is not None and entry[:2] == (stamp, fingerprint)
                and now - entry[2] < settings.PROCESS_CACHE_MAX_AGE):
            return entry[3]
        value = build()
        with self._lock:
            if key not in self._entries and len(self._entries) >= MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)), None)
            self._entries[key] = (stamp, fingerprint, now, value)
        return value

    def invalidate(self, key: Hashable) -> None:
        """Everything built for ``key`` is stale: every process rebuilds it at its next ``get``."""
        cache.set(self._stamp_key(key), uuid.uuid4().hex, timeout=None)
        with self._lock:
            self._entries.pop(key, None)

    def clear_local(self) -> None:
        """Forget this process's entries (tests that swap the cache backend)."""
        with self._lock:
            self._entries.clear()
