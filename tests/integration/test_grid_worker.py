"""A real Celery worker pregenerates a grid, and still completes it after being SIGKILLed mid-task."""
from __future__ import annotations

import os
import signal
import time

import pytest

from explainers.models import StimulusGrid
from tests.explainers.test_grids import tiny_checkpoint_file, train_tiny_checkpoint  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

LAYOUT = {"rows": 30, "held_out": 600, "batch_size": 4}


def wait_for(grid_id: int, statuses: set[str], timeout: float, worker=None) -> StimulusGrid:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        grid = StimulusGrid.objects.get(pk=grid_id)
        if grid.status in statuses:
            return grid
        time.sleep(0.3)
    output = "".join(worker.output_lines[-40:]) if worker is not None else ""
    pytest.fail(f"grid {grid_id} stayed {grid.status} ({grid.progress}%):\n{output}")


@pytest.fixture
def owned_checkpoint(transactional_db, django_user_model, tiny_checkpoint_file):  # noqa: F811
    from explainers.services.checkpoints import checkpoint_register

    owner = django_user_model.objects.create_user("worker-owner")
    return checkpoint_register(path=tiny_checkpoint_file, name="tiny", owner=owner)


def test_a_worker_pregenerates_a_grid_and_survives_a_sigkill(celery_worker_process, owned_checkpoint):
    from explainers.services.grids import grid_create

    grid = grid_create(owner=owned_checkpoint.owner, checkpoint=owned_checkpoint,
                       method="counterfactual_interpolation", layout=LAYOUT)
    ready = wait_for(grid.pk, {"ready", "failed"}, 240, celery_worker_process)
    assert ready.status == "ready", ready.error
    assert ready.cells.count() == 150

    # Second grid: kill the worker while it runs, restart it, and the grid still completes.
    second = grid_create(owner=owned_checkpoint.owner, checkpoint=owned_checkpoint, method="isofactual",
                         layout=LAYOUT, seed=1)
    running = wait_for(second.pk, {"running", "ready"}, 120, celery_worker_process)
    assert running.status == "running", "the grid finished before the worker could be killed"
    os.kill(celery_worker_process.pid, signal.SIGKILL)
    celery_worker_process.wait(20)
    assert StimulusGrid.objects.get(pk=second.pk).status == "running"  # nothing half-published
    assert not StimulusGrid.objects.get(pk=second.pk).cells.exists()

    # The killed worker never acknowledged the message (acks_late). Redis hands unacknowledged messages
    # back after the visibility timeout (an hour by default); restore them now, as that timeout would.
    from studyserver.celery import app

    app.conf.broker_transport_options = {"visibility_timeout": 1}
    time.sleep(2)
    with app.connection_for_write() as connection:
        connection.default_channel.qos.restore_visible(num=100)
    restarted = _start_worker()
    try:
        done = wait_for(second.pk, {"ready", "failed"}, 240, restarted)
        assert done.status == "ready", done.error
        assert done.cells.count() == 180  # 30 isofactual rows, each opening with its original: 30 × (1 + 5)
    finally:
        restarted.terminate()
        restarted.wait(20)


def _start_worker():
    import subprocess
    import sys
    import threading

    from django.conf import settings

    from tests.integration.conftest import REPO_ROOT, worker_database_url

    env = {**os.environ, "DATABASE_URL": worker_database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "STUDYSERVER_ARTIFACTS": str(settings.ARTIFACTS_ROOT), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studyserver", "worker", "-Q", "default,gpu", "--pool=solo",
         "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
         "-n", f"pytest-restart-{os.getpid()}@%h"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    process.output_lines = []
    threading.Thread(target=lambda: process.output_lines.extend(iter(process.stdout.readline, "")),
                     daemon=True).start()
    return process
