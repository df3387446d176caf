"""Celery tasks of the explainers app: thin wrappers that take primary keys and call one service.

Routed to the ``gpu`` queue by settings.CELERY_TASK_ROUTES (``explainers.tasks.*``); workers on GPU machines
run them on CUDA, the others on CPU. Acks late with reject-on-worker-lost: a worker killed mid-task leaves the
message on the queue and the next worker runs the (idempotent) service again from the start.
"""
from __future__ import annotations

import logging

from celery import shared_task

from explainers.services.grid_generation import GRID_TRANSIENT_ERRORS, grid_pregenerate

log = logging.getLogger(__name__)


#: Every task here: acknowledged after it ran (a killed worker's message is redelivered), retried with backoff on
#: transient database or connection errors.
RELIABLE = dict(bind=True, acks_late=True, reject_on_worker_lost=True, autoretry_for=GRID_TRANSIENT_ERRORS,
                retry_backoff=2, retry_backoff_max=120, retry_jitter=True)


@shared_task(name="explainers.tasks.pregenerate_grid", max_retries=5, **RELIABLE)
def pregenerate_grid(self, grid_id: int) -> dict:
    """Pregenerate stimulus grid ``grid_id`` (see explainers.services.grid_generation.grid_pregenerate).

    Progress (0-100) goes to the grid row and to the task state (state PROGRESS, meta
    ``{"grid_id", "progress", "stage"}``). A permanent failure is recorded on the grid, not raised, so it is
    not retried; transient database or connection errors are retried with backoff.
    """

    def report(percent: int, stage: str) -> None:
        if self.request.is_eager or not self.request.id:
            return
        try:
            self.update_state(state="PROGRESS", meta={"grid_id": grid_id, "progress": percent, "stage": stage})
        except Exception:  # a result backend hiccup must not fail the grid
            log.warning("could not store progress of grid %s", grid_id, exc_info=True)

    grid = grid_pregenerate(grid_id, progress=report)
    log.info("pregenerate_grid %s finished with status %s", grid_id, grid.status)
    return {"grid_id": grid.pk, "status": grid.status, "progress": grid.progress, "error": grid.error}


@shared_task(name="explainers.tasks.train_explainer", max_retries=3, **RELIABLE)
def train_explainer(self, classifier_id: int, out: str, name: str, preset: str = "exaggeration-two4two-32") -> dict:
    """Train (resuming a half-finished file) and register the progressive-exaggeration explainer of classifier
    ``classifier_id`` (see explainers.services.exaggeration). Progress goes to the task state (PROGRESS,
    meta ``{"classifier_id", "step", "steps"}``)."""
    from explainers.services.exaggeration import explainer_train_and_register

    def report(step: int, total: int, metrics: dict) -> None:
        if self.request.is_eager or not self.request.id or (step % 25 and step != total):
            return
        try:
            self.update_state(state="PROGRESS", meta={"classifier_id": classifier_id, "step": step, "steps": total})
        except Exception:  # a result backend hiccup must not fail the training
            log.warning("could not store progress of the explainer of %s", classifier_id, exc_info=True)

    model = explainer_train_and_register(classifier_id=classifier_id, out=out, name=name, preset=preset,
                                         progress=report)
    return {"classifier_id": classifier_id, "explainer_id": model.pk, "sha256": model.sha256}
