"""Analysis page, API and admin exports: owners only, clear errors."""
from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from stats.models import Hypothesis
from studies.models import Study

from .factories import make_item, make_study, make_user, seed_like_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def study(owner):
    return seed_like_study(owner=owner, slug="patterns")


def test_analysis_page_shows_apa_tables_charts_hypotheses_and_exclusions(client, owner, study):
    Hypothesis.objects.create(study=study, key="h7", kind="condition_greater",
                              parameters={"item": "arms", "higher": "cf", "lower": "bl", "alpha": 0.05,
                                          "test": "kruskal_wallis"}, description="CF rated higher")
    client.force_login(owner)
    response = client.get("/studies/patterns/analysis/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<i>H</i>(1, <i>N</i> = 16)" in html
    assert html.count("data:image/svg+xml;base64,") == 2  # pattern and satisfaction charts
    assert "CF rated higher" in html and "confirmed" in html
    assert "Exclusions" in html and "failed an attention check" in html
    again = client.get("/studies/patterns/analysis/")
    assert again.context["analysis"].pk == response.context["analysis"].pk  # same data: reused


def test_analysis_page_requires_login_and_ownership(client, study):
    url = "/studies/patterns/analysis/"
    assert client.get(url).status_code == 302
    client.force_login(make_user("stranger"))
    assert client.get(url).status_code == 403
    assert client.get("/studies/nosuch/analysis/").status_code == 404


def test_analysis_page_explains_why_no_analysis_is_possible(client, owner):
    make_study(owner=owner, slug="single", conditions=("cf",))
    client.force_login(owner)
    response = client.get("/studies/single/analysis/")
    assert "at least two" in response.content.decode()
    assert "analysis" not in response.context or response.context.get("analysis") is None
    bad = client.get("/studies/single/analysis/?correction=magic")
    assert bad.status_code == 400


def test_analysis_download_formats(client, owner, study):
    client.force_login(owner)
    pk = client.get("/studies/patterns/analysis/").context["analysis"].pk
    data = json.loads(client.get(reverse("stats:analysis_download", args=["patterns", pk, "json"])).content)
    assert data["items"][0]["key"] == "arms"
    assert client.get(reverse("stats:analysis_download", args=["patterns", pk, "pdf"])).status_code == 404


def test_sample_size_page(client, owner, study):
    client.force_login(owner)
    response = client.get("/studies/patterns/sample-size/?d=0.5&alpha=0.05&power=0.8&family_size=6")
    assert response.status_code == 200 and "104 participants per condition" in response.content.decode()
    assert client.get("/studies/patterns/sample-size/?d=abc").status_code == 400


# --- API ------------------------------------------------------------------------------------------
def test_api_export_is_for_the_owner_or_a_superuser(client, owner, study):
    url = "/api/studies/patterns/export/"
    assert client.get(url + "?format=long").status_code in (401, 403)
    client.force_login(make_user("stranger"))
    assert client.get(url + "?format=long").status_code == 404
    # Every researcher is staff: staff rights alone must not open another researcher's data.
    client.force_login(make_user("staffer", is_staff=True))
    assert client.get(url + "?format=wide").status_code == 404
    client.force_login(make_user("admin", is_staff=True, is_superuser=True))
    assert client.get(url + "?format=wide").status_code == 200
    client.force_login(owner)
    response = client.get(url + "?format=long")
    assert response["Content-Type"].startswith("text/csv")
    assert len(list(csv.DictReader(io.StringIO(response.content.decode())))) == 16 * 5
    assert json.loads(client.get(url + "?format=codebook").content)["study"] == "patterns"
    bad = client.get(url + "?format=xlsx")
    assert bad.status_code == 400 and "Unknown export format" in bad.json()["detail"]


def test_api_runs_and_lists_analyses(client, owner, study):
    client.force_login(owner)
    created = client.post("/api/studies/patterns/analyses/", {"correction": "fdr_bh"}, content_type="application/json")
    assert created.status_code == 201 and created.json()["results"]["correction"] == "fdr_bh"
    listed = client.get("/api/studies/patterns/analyses/").json()
    assert [a["id"] for a in listed] == [created.json()["id"]]
    bad = client.post("/api/studies/patterns/analyses/", {"correction": "sidak"}, content_type="application/json")
    assert bad.status_code == 400


def test_api_hypotheses_only_while_draft(client, owner, study):
    client.force_login(owner)
    url = "/api/studies/patterns/hypotheses/"
    body = {"key": "h1", "kind": "proportion_agree", "parameters": {"item": "arms", "condition": "bl",
                                                                      "threshold": 0.8}}
    assert client.post(url, body, content_type="application/json").status_code == 201
    bad = client.post(url, {**body, "key": "h2", "parameters": {"item": "arms"}}, content_type="application/json")
    assert bad.status_code == 400 and "needs a non-empty 'condition'" in json.dumps(bad.json())
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    late = client.post(url, {**body, "key": "h3"}, content_type="application/json")
    assert late.status_code == 400 and "draft" in json.dumps(late.json())
    assert client.delete(url + "h1/").status_code == 400
    assert list(Hypothesis.objects.values_list("key", flat=True)) == ["h1"]


def test_api_sample_size(client, owner):
    client.force_login(owner)
    response = client.post("/api/sample-size/", {"d": 0.5, "family_size": 6}, content_type="application/json")
    assert response.status_code == 200 and response.json()["n_per_condition"] == 104
    assert client.post("/api/sample-size/", {}, content_type="application/json").status_code == 400


def test_admin_export_action_returns_the_owners_file(client, owner, study):
    owner.is_staff = True
    owner.is_superuser = True
    owner.save()
    client.force_login(owner)
    response = client.post(
        "/admin/stats/studyexport/", {"action": "export_wide", "_selected_action": [study.pk]}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="patterns-responses-wide.csv"'
    assert "arms" in response.content.decode().splitlines()[0]


def test_unrelated_study_items_do_not_leak(client, owner, study):
    other = make_study(slug="other")
    make_item(other, "secret")
    client.force_login(owner)
    assert client.get("/api/studies/other/export/?format=codebook").status_code == 404
