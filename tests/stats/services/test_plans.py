"""The analysis plan in the database: versions while a draft, frozen at launch, confirmatory / exploratory
analyses, no peeking by accident, exports, reproducibility from the long CSV, missing data and sensitivity."""
from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from stats.models import Analysis, AnalysisPlan, PlanLogEntry
from stats.services import (
    AnalysisParameters,
    InterimLookRequired,
    analysis_run,
    hypothesis_create,
    plan_export,
    plan_frozen,
    plan_save,
)
from stats.services.exports import responses_export
from studies.models import Study

from ..factories import make_participant, seed_like_study

pytestmark = pytest.mark.django_db


def _launch(study: Study) -> Study:
    # What studies.services.study_launch stores; the plan freezes on this save.
    study.status, study.launched_at = Study.Status.LIVE, timezone.now()
    study.save(update_fields=["status", "launched_at"])
    return study


def _close(study: Study) -> Study:
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    return study


def test_versions_are_dated_and_the_plan_freezes_at_launch():
    study = seed_like_study()
    first = plan_save(study=study, spec={"alpha": 0.05}, note="first")
    second = plan_save(study=study, spec={"correction": "holm"})
    assert (first.version, second.version) == (1, 2) and second.created_at >= first.created_at
    assert plan_frozen(study=study) is None
    _launch(study)
    frozen = plan_frozen(study=study)
    assert frozen.version == 3 and frozen.frozen_at is not None and frozen.spec["correction"] == "holm"
    assert list(PlanLogEntry.objects.values_list("event", flat=True)) == ["version", "version", "frozen"]
    with pytest.raises(ValidationError, match="frozen when the study was launched"):
        plan_save(study=study, spec={"alpha": 0.01})
    with pytest.raises(ValidationError, match="never changed"):
        frozen.save()
    assert AnalysisPlan.objects.count() == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"alpha": 1.5}, "alpha must be above 0 and below 1"),
        ({"families": {"solo": ["helpful"]}}, "has one item"),
        ({"families": {"main": ["arms", "gone"]}}, "'gone', which is not a Likert item"),
        ({"hypotheses": []}, "Hypotheses are written through"),
    ],
)
def test_bad_plans_store_nothing(spec, message):
    study = seed_like_study(n_per_condition=1)
    with pytest.raises(ValidationError, match=message):
        plan_save(study=study, spec=spec)
    assert not AnalysisPlan.objects.exists() and not PlanLogEntry.objects.exists()


def test_a_hypothesis_naming_a_missing_item_is_refused_but_a_scale_of_the_plan_is_known():
    study = seed_like_study(n_per_condition=1)
    with pytest.raises(ValidationError, match="'nope' is not a Likert item"):
        hypothesis_create(study=study, key="h1", kind="compound", parameters={"statements": [
            {"kind": "condition_greater", "item": "arms", "higher": "cf", "lower": "bl"},
            {"kind": "condition_greater", "item": "nope", "higher": "cf", "lower": "bl"}]})
    plan_save(study=study, spec={"scales": {"score": {"items": ["arms", "helpful"]}},
                                 "families": {"score": {"items": ["score"], "correction": "uncorrected"}}})
    hypothesis_create(study=study, key="h2", kind="condition_greater",
                      parameters={"item": "score", "higher": "cf", "lower": "bl"})


def test_analyses_say_whether_they_follow_the_frozen_plan():
    study = seed_like_study()
    draft = analysis_run(study=study).results["plan"]
    assert draft["status"] == "exploratory" and "no plan was frozen" in draft["departures"][0]
    _close(_launch(study))
    analysis = analysis_run(study=study)
    assert analysis.confirmatory and analysis.results["plan"] == {**analysis.results["plan"], "status": "confirmatory",
                                                                 "departures": [], "version": 1}
    holm = analysis_run(study=study, parameters=AnalysisParameters(correction="holm")).results["plan"]
    assert holm["status"] == "exploratory" and holm["departures"] == [
        "correction: 'holm' instead of the planned 'bonferroni'"]
    software = analysis.results["software"]
    assert set(software) >= {"python", "scipy", "statsmodels"} and all(software[k] for k in ("python", "scipy"))


def test_a_live_study_is_not_analysed_without_a_confirmed_interim_look(client):
    study = _launch(seed_like_study(slug="patterns"))
    with pytest.raises(InterimLookRequired, match="interim look"):
        analysis_run(study=study)
    assert not Analysis.objects.exists()
    client.force_login(study.owner)
    page = client.get("/studies/patterns/analysis/")
    assert page.status_code == 200 and b'id="interim-warning"' in page.content
    assert not Analysis.objects.exists() and not PlanLogEntry.objects.filter(event="interim_look").exists()
    assert client.post("/studies/patterns/analysis/interim/", {}).status_code == 400
    response = client.post("/studies/patterns/analysis/interim/", {"confirm": "1", "reason": "safety check"})
    analysis = Analysis.objects.get()
    assert response.status_code == 302 and analysis.interim and analysis.results["interim"] is True
    look = PlanLogEntry.objects.get(event="interim_look")
    assert look.message == "safety check" and look.created_by == study.owner and look.plan == plan_frozen(study=study)
    api = client.post("/api/studies/patterns/analyses/", {}, content_type="application/json")
    assert api.status_code == 409 and api.json()["interim_required"] is True
    assert client.get("/studies/patterns/analysis/").status_code == 200 and Analysis.objects.count() == 1


def test_the_plan_is_exported_from_the_dashboard_api_and_command(client):
    study = seed_like_study(slug="patterns")
    hypothesis_create(study=study, key="H7", kind="condition_greater", description="CF rated higher",
                      parameters={"item": "arms", "higher": "cf", "lower": "bl"})
    _launch(study)
    text = plan_export(study=study, fmt="text").content
    assert "2) Hypotheses" in text and "H7: CF rated higher" in text and "frozen" in text.lower()
    out = io.StringIO()
    call_command("export_plan", "patterns", "--format", "json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["frozen_at"] and document["plan"]["hypotheses"][0]["key"] == "H7"
    assert [entry["event"] for entry in document["log"]] == ["frozen"]
    client.force_login(study.owner)
    assert client.get("/api/studies/patterns/plan/").json()["plan"] == document["plan"]
    assert client.put("/api/studies/patterns/plan/", {"alpha": 0.01},
                      content_type="application/json").status_code == 400
    download = client.get("/studies/patterns/analysis/plan.text")
    assert download.status_code == 200 and download.content.decode() == text
    dashboard = client.get("/studies/patterns/dashboard/").content.decode()
    assert 'href="/studies/patterns/analysis/plan.text"' in dashboard


def test_analyze_from_csv_reproduces_the_hash_and_numbers(tmp_path):
    study = seed_like_study(slug="patterns", n_per_condition=4)
    make_participant(study, "cf", {"arms": 2, "color": 3, "bg": 4, "helpful": 5, "check": 6})  # excluded
    analysis = analysis_run(study=study)
    owner_file = tmp_path / "responses.csv"
    owner_file.write_text(responses_export(study=study, fmt="long").content)  # the default download
    stored = tmp_path / "analysis.json"
    stored.write_text(json.dumps(analysis.results))
    out = io.StringIO()
    call_command("analyze", "--from-csv", str(owner_file), "--plan", str(stored), stdout=out)
    again = json.loads(out.getvalue())
    assert again["data_hash"] == analysis.data_hash
    assert again["items"] == analysis.results["items"] and again["hypotheses"] == analysis.results["hypotheses"]
    # Anyone can recompute the hash from the file: header and the analysed participants' rows.
    rows = list(csv.reader(io.StringIO(owner_file.read_text())))
    header = rows[0]
    excluded = {p["participant"] for p in analysis.results["exclusions"]["participants"]}
    keep = [i for i, name in enumerate(header) if name not in ("platform", "platform_participant_id",
                                                                "platform_submission_id")]
    kept = [[row[i] for i in keep] for row in [header] + [r for r in rows[1:] if r[0] not in excluded]]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(kept)
    assert hashlib.sha256(buffer.getvalue().encode()).hexdigest() == analysis.data_hash
    assert all(not cell.isdigit() for cell in {row[0] for row in rows[1:]})  # pseudonyms, no database ids


def test_missing_answers_and_the_exclusion_sensitivity_table():
    study = seed_like_study(n_per_condition=6, min_stimulus_seconds=30)
    make_participant(study, "cf", {"arms": 7, "check": 2})  # misses three statements
    for _ in range(10):  # fast and decisive: switching the time rule off changes significance
        make_participant(study, "bl", {"arms": 1, "color": 1, "bg": 7, "helpful": 1, "check": 2}, stimulus_seconds=3)
    results = analysis_run(study=study).results
    color = next(item for item in results["items"] if item["key"] == "color")
    assert color["conditions"]["cf"]["n_missing"] == 1 and color["conditions"]["bl"]["n_missing"] == 0
    sensitivity = {row["rule"]: row for row in results["sensitivity"]}
    assert set(sensitivity) == {"incomplete", "failed_attention", "too_fast"}
    assert sensitivity["too_fast"]["included"] == results["exclusions"]["included"] + 10
    assert sensitivity["too_fast"]["any_change"] is True
    assert sensitivity["incomplete"]["any_change"] is False
