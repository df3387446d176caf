"""Researcher experience of grids: API and admin create-and-enqueue, owner filtering, progress, command."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from explainers.models import StimulusGrid
from tests.explainers.test_grids import (  # noqa: F401  (shared fixtures)
    SMALL,
    _grid_cache,
    _shared_grid_cache,
    checkpoint,
    researcher,
    tiny_checkpoint_file,
)


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user("mallory")


@pytest.fixture
def api(researcher):  # noqa: F811
    client = APIClient()
    client.force_authenticate(researcher)
    return client


def test_creating_a_grid_through_the_api_enqueues_and_builds_it(api, checkpoint,  # noqa: F811
                                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/grids/", {"name": "cf", "checkpoint": checkpoint.pk,
                                            "method": "counterfactual_interpolation", "layout": SMALL},
                            format="json")
    assert response.status_code == 201, response.content
    grid_id = response.json()["id"]
    progress = api.get(f"/api/grids/{grid_id}/progress/").json()
    assert progress["status"] == "ready" and progress["progress"] == 100
    detail = api.get(f"/api/grids/{grid_id}/").json()
    assert len(detail["cells"]) == 25 and detail["cells"][0]["url"].startswith("/media/grids/")
    assert sum(cell["is_original"] for cell in detail["cells"]) == 5


@pytest.mark.parametrize("payload, field", [
    ({"method": "counterfactual_interpolation", "layout": {"rows": 0}}, "layout"),
    ({"method": "nope", "layout": SMALL}, "method"),
    ({"method": "isofactual", "layout": SMALL, "parameters": {"n_components": -1}}, "parameters"),
])
def test_bad_grids_get_a_400_naming_the_field_and_nothing_is_stored(api, checkpoint, payload, field):  # noqa: F811
    response = api.post("/api/grids/", {"checkpoint": checkpoint.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not StimulusGrid.objects.exists()


def test_researchers_see_only_their_own_grids_and_checkpoints(api, checkpoint, stranger):  # noqa: F811
    from explainers.services.grids import grid_create

    mine = grid_create(owner=checkpoint.owner, checkpoint=checkpoint, method="example_based", layout=SMALL,
                       enqueue=False)
    other = APIClient()
    other.force_authenticate(stranger)
    assert other.get("/api/grids/").json()["results"] == []
    assert other.get(f"/api/grids/{mine.pk}/").status_code == 404
    assert other.get(f"/api/grids/{mine.pk}/progress/").status_code == 404
    assert other.get("/api/checkpoints/").json()["results"] == []
    response = other.post("/api/grids/", {"checkpoint": checkpoint.pk, "method": "example_based", "layout": SMALL},
                          format="json")
    assert response.status_code == 400 and "checkpoint" in response.json()
    assert [g["id"] for g in api.get("/api/grids/").json()["results"]] == [mine.pk]
    assert APIClient().get("/api/grids/").status_code in (401, 403)


def test_the_progress_endpoint_serves_only_the_owner(client, checkpoint, researcher, stranger):  # noqa: F811
    from explainers.services.grids import grid_create

    grid = grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", layout=SMALL, enqueue=False)
    url = reverse("explainers:grid-progress", args=[grid.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    client.force_login(researcher)
    data = client.get(url).json()
    assert data == {"id": grid.pk, "status": "pending", "progress": 0, "error": "", "is_ready": False,
                    "task_id": grid.task_id, "finished_at": None}


def test_the_admin_creates_a_grid_and_shows_a_live_progress_bar(client, checkpoint, researcher,  # noqa: F811
                                                               django_capture_on_commit_callbacks):
    researcher.is_staff = researcher.is_superuser = True
    researcher.save()
    client.force_login(researcher)
    form = {"name": "baseline", "checkpoint": checkpoint.pk, "method": "example_based", "parameters": "{}",
            "layout": '{"rows": 5, "held_out": 200}', "seed": 0}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:explainers_stimulusgrid_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    grid = StimulusGrid.objects.get()
    assert grid.is_ready and grid.owner == researcher
    page = client.get(reverse("admin:explainers_stimulusgrid_change", args=[grid.pk])).content.decode()
    assert 'data-progress-url="%s"' % reverse("explainers:grid-progress", args=[grid.pk]) in page
    assert "<progress" in page and "js/grids.js" in page and "composite.png" in page


def test_the_admin_refuses_an_impossible_layout(client, checkpoint, researcher):  # noqa: F811
    researcher.is_staff = researcher.is_superuser = True
    researcher.save()
    client.force_login(researcher)
    form = {"name": "x", "checkpoint": checkpoint.pk, "method": "counterfactual_interpolation",
            "parameters": "{}", "layout": '{"rows": 7, "held_out": 200}', "seed": 0}
    response = client.post(reverse("admin:explainers_stimulusgrid_add"), form)
    assert response.status_code == 200
    assert "multiple of columns" in response.content.decode()
    assert not StimulusGrid.objects.exists()


def test_the_admin_lists_only_the_researchers_grids(client, checkpoint, researcher, stranger):  # noqa: F811
    from django.contrib.auth.models import Permission

    from explainers.services.grids import grid_create

    grid_create(owner=researcher, checkpoint=checkpoint, method="example_based", name="secret-grid",
                layout=SMALL, enqueue=False)
    stranger.is_staff = True
    stranger.save()
    stranger.user_permissions.add(*Permission.objects.filter(codename__endswith="stimulusgrid"))
    client.force_login(stranger)
    page = client.get(reverse("admin:explainers_stimulusgrid_changelist")).content.decode()
    assert "secret-grid" not in page


def test_the_command_pregenerates_with_a_progress_bar(checkpoint, capsys):  # noqa: F811
    call_command("pregenerate_grid", "--checkpoint", str(checkpoint.pk), "--method", "isofactual",
                 "--rows", "5", "--layout", '{"held_out": 200}', "--params", '{"n_components": 2}', "--wait")
    out, err = capsys.readouterr()
    grid = StimulusGrid.objects.get()
    # 5 rows × (the original, which opens each isofactual row in a column of its own as in the seed's
    # Figure 7a, + 5 logit columns) = 30 cells; a counterfactual grid of this layout has 25.
    assert grid.is_ready and f"grid {grid.pk} ready: 30 cells" in out
    assert grid.column_labels[0] == "Original" and len(grid.column_labels) == 6
    assert "100%" in err  # tqdm's bar


def test_the_command_reports_bad_input_clearly(checkpoint):  # noqa: F811
    with pytest.raises(CommandError, match="multiple of columns"):
        call_command("pregenerate_grid", "--checkpoint", str(checkpoint.pk), "--method", "isofactual",
                     "--rows", "7", "--layout", '{"held_out": 200}', "--wait")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("pregenerate_grid", "--checkpoint", str(checkpoint.pk), "--method", "isofactual",
                     "--params", "{oops", "--wait")
    assert not StimulusGrid.objects.exists()
