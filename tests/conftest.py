"""Shared fixtures: every test writes media and artifacts to its own temporary folder."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # Throttle counters live in the cache; each test starts with none spent by earlier tests.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ARTIFACTS_ROOT = tmp_path / "artifacts"
    settings.MEDIA_ROOT.mkdir()
    settings.ARTIFACTS_ROOT.mkdir()
    yield
