"""gunicorn serving the pytest test database, for the load and fault tests (helpers, not tests)."""
from __future__ import annotations

import io
from contextlib import contextmanager
from typing import Iterator

from django.conf import settings
from django.core.management import call_command

from bench import load
from studies.models import Study
from studies.simulation import ParticipantRegistry, SingleConnectionRegistry
from tests.integration.conftest import worker_database_url

EXAMPLE_SLUG = load.EXAMPLE_SLUG


def load_unlimited_example_study() -> Study:
    """The example study (`manage.py load_example_study`), live and without a target, in the test database."""
    call_command("load_example_study", stdout=io.StringIO(), stderr=io.StringIO())
    Study.objects.filter(slug=EXAMPLE_SLUG).update(target_per_condition=None, status=Study.Status.LIVE)
    return Study.objects.get(slug=EXAMPLE_SLUG)


@contextmanager
def gunicorn_on_test_database(*, workers: int = 2, threads: int = 2, **env: str) -> Iterator[load.Server]:
    server_env = load.server_env(worker_database_url(), str(settings.MEDIA_ROOT), **env)
    with load.gunicorn(env=server_env, workers=workers, threads=threads) as server:
        yield server


@contextmanager
def simulated_flagger(slug: str = EXAMPLE_SLUG) -> Iterator[SingleConnectionRegistry]:
    """The registry that flags the load participants simulated, through one database connection."""
    registry = SingleConnectionRegistry(ParticipantRegistry(slug))
    try:
        yield registry
    finally:
        registry.close()
