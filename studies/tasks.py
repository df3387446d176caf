"""Celery tasks of the studies app: reading Prolific submission statuses on a schedule (Celery beat runs
``prolific_sync_all`` every PROLIFIC_SYNC_MINUTES when PROLIFIC_API_TOKEN is set). Thin: they take primary
keys and call studies.prolific.sync; a sync is idempotent, so a retry or a double delivery is harmless."""
from __future__ import annotations

import logging
from dataclasses import asdict

from celery import shared_task

from studies.models import Study
from studies.prolific.sync import ProlificError, prolific_sync_study

log = logging.getLogger(__name__)


@shared_task(name="studies.tasks.prolific_sync", acks_late=True, autoretry_for=(ProlificError,), retry_backoff=30,
             retry_backoff_max=600, retry_jitter=True, max_retries=5)
def prolific_sync(study_id: int) -> dict:
    study = Study.objects.get(pk=study_id)
    return asdict(prolific_sync_study(study=study))


@shared_task(name="studies.tasks.prolific_sync_all", acks_late=True)
def prolific_sync_all() -> list[int]:
    """Queue a sync of every live or paused Prolific study (closed ones keep their last statuses)."""
    ids = list(Study.objects.filter(platform=Study.Platform.PROLIFIC,
                                    status__in=[Study.Status.LIVE, Study.Status.PAUSED]).values_list("pk", flat=True))
    for study_id in ids:
        prolific_sync.delay(study_id)
    return ids
