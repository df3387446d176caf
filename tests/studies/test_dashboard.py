"""Researcher dashboard: owner-only access, correct live counts (real and simulated apart), setup snippets."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from studies.models import Participant, Study

from .factories import make_study, make_user

pytestmark = pytest.mark.django_db
S = Participant.Status


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _urls(study: Study) -> list[str]:
    return [f"/studies/{study.slug}/dashboard/", f"/studies/{study.slug}/dashboard/live.json"]


def test_anonymous_visitors_are_sent_to_the_login(study):
    for url in [*_urls(study), "/studies/"]:
        response = _client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_other_researchers_get_404_and_the_owner_and_superusers_get_the_page(study, other_researcher):
    for url in _urls(study):
        assert _client(other_researcher).get(url).status_code == 404
        assert _client(study.owner).get(url).status_code == 200
        assert _client(make_user(is_staff=True, is_superuser=True)).get(url).status_code == 200
    assert _client(study.owner).get("/studies/no-such-study/dashboard/").status_code == 404
    assert _client(study.owner).post(_urls(study)[1]).status_code == 405


def test_the_index_lists_only_the_researchers_own_studies(study, other_researcher):
    foreign = make_study(owner=other_researcher, slug="foreign-study")
    Participant.objects.create(study=study, platform=study.platform, external_id="P1",
                               condition=study.conditions.first(), status=S.COMPLETED)
    Participant.objects.create(study=study, platform=study.platform, external_id="SIM-1", is_simulated=True,
                               condition=study.conditions.first(), status=S.COMPLETED)
    page = _client(study.owner).get("/studies/").content.decode()
    assert f"/studies/{study.slug}/dashboard/" in page and foreign.slug not in page
    row = page[page.index(f'data-study="{study.slug}"'):]
    row = "".join(row[:row.index("</tr>")].split())
    assert "<td>2</td><td>1</td><td>1</td>" in row  # 2 conditions; 1 real started and completed (simulated apart)
    assert "pattern-study" not in _client(other_researcher).get("/studies/").content.decode()


def _participant(study, condition, status, *, simulated=False, minutes=None, attention_failed=False, n=[0]):
    n[0] += 1
    participant = Participant.objects.create(
        study=study, platform=study.platform, external_id=f"{'SIM-' if simulated else 'P'}{n[0]}",
        condition=condition, status=status, is_simulated=simulated, attention_failed=attention_failed,
    )
    if minutes is not None:
        started = timezone.now() - timedelta(hours=2)
        Participant.objects.filter(pk=participant.pk).update(
            started_at=started, completed_at=started + timedelta(minutes=minutes))
    return participant


def test_live_counts_per_condition_keep_real_and_simulated_apart(study):
    c0, c1 = study.conditions.order_by("order")
    for minutes in (10, 12, 20):
        _participant(study, c0, S.COMPLETED, minutes=minutes)
    _participant(study, c1, S.COMPLETED, minutes=30)
    _participant(study, c0, S.ACTIVE)
    _participant(study, c1, S.RETURNED)
    _participant(study, c1, S.TIMED_OUT)
    _participant(study, c1, S.FAILED_ATTENTION, attention_failed=True)
    _participant(study, None, S.ACTIVE)  # entered, not consented yet
    _participant(study, None, S.DECLINED)
    for _ in range(5):
        _participant(study, c1, S.COMPLETED, simulated=True, minutes=1)
    _participant(study, c0, S.ACTIVE, simulated=True)

    live = _client(study.owner).get(f"/studies/{study.slug}/dashboard/live.json").json()
    real = live["real"]
    rows = {row["slug"]: row for row in real["conditions"]}
    assert rows["c0"] == {"slug": "c0", "name": "Condition 0", "started": 4, "active": 1, "completed": 3,
                          "returned": 0, "excluded": 0}
    assert rows["c1"] == {"slug": "c1", "name": "Condition 1", "started": 4, "active": 0, "completed": 1,
                          "returned": 2, "excluded": 1}
    assert real["totals"] == {"started": 8, "active": 1, "completed": 4, "returned": 2, "excluded": 1}
    assert real["balance"] == 2
    assert real["attention_failures"] == 1
    assert real["not_consented"] == 1 and real["declined"] == 1
    assert real["median_completion_seconds"] == pytest.approx(16 * 60, abs=1)
    simulated = live["simulated"]
    assert simulated["totals"] == {"started": 6, "active": 1, "completed": 5, "returned": 0, "excluded": 0}
    assert simulated["balance"] == 5 and simulated["median_completion_seconds"] == pytest.approx(60, abs=1)
    assert live["status"] == "live"

    page = _client(study.owner).get(f"/studies/{study.slug}/dashboard/").content.decode()
    real_table = page[page.index('id="population-real"'):page.index('id="population-simulated"')]
    assert '<tr data-condition="c1"><td>Condition 1</td><td data-column="started">4</td>' in real_table
    assert '<dd data-figure="balance">2</dd>' in real_table and "16 min 0 s" in real_table
    assert 'data-live-url="/studies/pattern-study/dashboard/live.json"' in page


def test_setup_snippets_use_the_public_base_url_placeholders_and_codes(study, settings):
    settings.PUBLIC_BASE_URL = "https://studies.example.org/"
    settings.PROLIFIC_COMPLETION_BASE_URL = "https://app.prolific.com/submissions/complete"
    page = _client(study.owner).get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert ("https://studies.example.org/s/pattern-study/?PROLIFIC_PID={{%PROLIFIC_PID%}}&amp;"
            "STUDY_ID={{%STUDY_ID%}}&amp;SESSION_ID={{%SESSION_ID%}}") in page
    assert "https://app.prolific.com/submissions/complete?cc=DONE123" in page
    assert "https://app.prolific.com/submissions/complete?cc=ATTN456" in page
    assert "PUBLIC_BASE_URL is not https" not in page

    from studies.dashboard_selectors import dashboard_setup

    xml = ET.fromstring(dashboard_setup(study=study)["mturk_xml"])
    ns = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd}"
    assert xml.tag == ns + "ExternalQuestion"
    assert xml.find(ns + "ExternalURL").text == "https://studies.example.org/s/pattern-study/"
    assert xml.find(ns + "FrameHeight").text == "0"


def test_mturk_snippet_is_https_even_when_the_site_is_not_yet_and_says_so(study, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    from studies.dashboard_selectors import dashboard_setup

    setup = dashboard_setup(study=study)
    assert "<ExternalURL>https://127.0.0.1:8000/s/pattern-study/</ExternalURL>" in setup["mturk_xml"]
    assert "PUBLIC_BASE_URL is not https" in _client(study.owner).get(
        f"/studies/{study.slug}/dashboard/").content.decode()


def test_links_point_at_the_analysis_and_exports(study):
    page = _client(study.owner).get(f"/studies/{study.slug}/dashboard/").content.decode()
    for url in ("/studies/pattern-study/analysis/", "/api/studies/pattern-study/export/?format=long",
                "/api/studies/pattern-study/export/?format=wide", "/api/studies/pattern-study/export/?format=codebook",
                f"/admin/studies/study/{study.pk}/change/"):
        assert f'href="{url}"' in page
    assert _client(study.owner).get("/api/studies/pattern-study/export/?format=codebook").status_code == 200


def test_grid_readiness_and_progress_are_reported(study):
    from explainers.models import Checkpoint, StimulusGrid

    checkpoint = Checkpoint.objects.create(name="ck", file="x.pt", sha256="0" * 64)
    grid = StimulusGrid.objects.create(name="cf grid", checkpoint=checkpoint, method="counterfactual_interpolation",
                                       owner=study.owner, status=StimulusGrid.Status.RUNNING, progress=40)
    # Linking a running grid to a live study is refused by the services; the dashboard must still show it.
    study.conditions.filter(slug="c1").update(stimulus_grid=grid)
    live = _client(study.owner).get(f"/studies/{study.slug}/dashboard/live.json").json()
    grids = {g["condition"]: g for g in live["grids"]}
    assert grids["c0"]["status"] == "ready" and grids["c0"]["progress"] == 100 and grids["c0"]["grid"] is None
    assert grids["c1"] == {"condition": "c1", "grid": grid.pk, "name": "cf grid",
                           "method": "counterfactual_interpolation", "status": "running", "progress": 40, "error": ""}
    StimulusGrid.objects.filter(pk=grid.pk).update(status=StimulusGrid.Status.READY, progress=100)
    page = _client(study.owner).get(f"/studies/{study.slug}/dashboard/").content.decode()
    assert 'aria-label="Grid c1" aria-valuemin="0" aria-valuemax="100" aria-valuenow="100"' in page
