"""The trials design's analysis through the stats service, page, JSON/CSV/HTML and the analyze command."""
from __future__ import annotations

import json
import random

import pytest
from django.core.management import call_command
from django.test import Client

from stats.reports import analysis_render
from stats.services import AnalysisError, AnalysisParameters, analysis_run
from studies.designs.trials import services
from studies.designs.trials.models import Trial
from studies.models import Participant
from studies.services.exclusions import participant_exclude
from studies.services import PlatformIdentity, participant_consent, participant_enter

from .factories import make_trials_study

#: Method effects on the 5-point ratings (first, second) the simulated answers follow.
EFFECT = {"cem": 2.0, "lime": 1.0, "gradcam": 0.0}


def complete_participant(study, pid: str, *, rng: random.Random, simulated: bool = False) -> Participant:
    participant = participant_enter(study=study, identity=PlatformIdentity(platform="prolific", external_id=pid),
                                    is_simulated=simulated)
    participant = participant_consent(participant=participant, agreed=True, rng=rng)
    Participant.objects.filter(pk=participant.pk).update(current_page="trials")
    participant.refresh_from_db()
    for trial in Trial.objects.filter(participant=participant).select_related("first_method", "second_method"):
        def rating(method):
            return min(5, max(1, round(2 + EFFECT[method.key] + rng.gauss(0, 0.8))))

        participant, _ = services.trial_answer(participant=participant, position=trial.position,
                                               answers={"first": rating(trial.first_method)})
        participant, _ = services.trial_answer(participant=participant, position=trial.position,
                                               answers={"second": rating(trial.second_method)})
    assert participant.status == Participant.Status.COMPLETED
    return participant


@pytest.fixture
def analysed_study(researcher):
    study = make_trials_study(owner=researcher)
    rng = random.Random(4)
    for index in range(10):
        complete_participant(study, f"P{index}", rng=rng)
    complete_participant(study, "SIM-1", rng=rng, simulated=True)
    participant_consent(participant=participant_enter(
        study=study, identity=PlatformIdentity(platform="prolific", external_id="LEFT")), agreed=True)
    return study


@pytest.mark.django_db
def test_analysis_reports_means_friedman_wilcoxon_and_the_mixed_model(analysed_study):
    analysis = analysis_run(study=analysed_study, parameters=AnalysisParameters(correction="holm"))
    results = analysis.results
    assert results["design"] == "within_subject"
    assert results["exclusions"]["included"] == 10
    assert results["exclusions"]["counts"] == {"simulated": 1, "incomplete": 1, "researcher": 0}
    assert results["trials_analysed"] == 240
    assert results["correction"] == "holm"
    first = results["tests"][0]
    assert first["question"] == "first" and first["friedman"]["significant"]
    assert len(first["posthoc"]) == 3 and all(p["p_adjusted"] >= p["p"] for p in first["posthoc"])
    cells = {(row["question"], row["method"]): row for row in results["summary"]}
    assert cells[("first", "cem")]["mean"] > cells[("first", "gradcam")]["mean"]
    assert cells[("first", "cem")]["n"] == 80  # 10 participants x 8 trials with cem first
    model = results["mixed_models"][0]
    assert model["status"] == "ok" and model["reference"] == "cem"
    assert {e["method"]: e["difference"] for e in model["effects"]}["gradcam"] < -1
    json.dumps(results)


@pytest.mark.django_db
def test_a_participant_the_researcher_excluded_leaves_the_analysis(analysed_study):
    excluded = Participant.objects.get(study=analysed_study, external_id="P3")
    participant_exclude(participant=excluded, reason="straight-lined every rating")
    results = analysis_run(study=analysed_study, parameters=AnalysisParameters()).results
    assert results["exclusions"]["included"] == 9 and results["exclusions"]["counts"]["researcher"] == 1
    assert results["trials_analysed"] == 9 * 24


@pytest.mark.django_db
def test_simulated_participants_enter_only_when_asked(analysed_study):
    results = analysis_run(study=analysed_study, parameters=AnalysisParameters(include_simulated=True)).results
    assert results["exclusions"]["included"] == 11


@pytest.mark.django_db
def test_reports_render_as_html_csv_and_on_the_analysis_page(analysed_study, researcher, other_researcher):
    analysis = analysis_run(study=analysed_study)
    html, _, _ = analysis_render(analysis.results, "html")
    assert "Friedman" in html and "data:image/svg+xml;base64," in html and "Mixed model" in html
    csv_text, _, _ = analysis_render(analysis.results, "csv")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("question,method,n,mean") and len(lines) == 1 + 6
    client = Client()
    client.force_login(researcher)
    page = client.get(f"/studies/{analysed_study.slug}/analysis/")
    assert page.status_code == 200 and b"Wilcoxon" in page.content
    client.force_login(other_researcher)
    assert client.get(f"/studies/{analysed_study.slug}/analysis/").status_code == 403


@pytest.mark.django_db
def test_the_analyze_command_writes_the_json(analysed_study, tmp_path):
    out = tmp_path / "analysis.json"
    call_command("analyze", analysed_study.slug, "--format", "json", "--out", str(out))
    results = json.loads(out.read_text())
    assert results["design"] == "within_subject" and results["tests"][1]["question"] == "second"


@pytest.mark.django_db
def test_a_study_without_completed_participants_cannot_be_analysed(researcher):
    study = make_trials_study(owner=researcher)
    with pytest.raises(AnalysisError, match="No participants left"):
        analysis_run(study=study)


@pytest.mark.django_db
def test_dashboard_shows_trials_answered_and_the_balance_of_orders(analysed_study, researcher):
    client = Client()
    client.force_login(researcher)
    page = client.get(f"/studies/{analysed_study.slug}/dashboard/").content.decode()
    assert "Balance of method orders" in page
    assert "<strong>240</strong> of 264 allocated trials answered" in page


@pytest.mark.django_db
def test_trial_export_lists_every_allocated_trial_for_the_owner_only(analysed_study, researcher, other_researcher):
    client = Client()
    client.force_login(researcher)
    response = client.get(f"/studies/{analysed_study.slug}/trials/export.csv")
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("participant,is_simulated,status,position,image")
    assert len(lines) == 1 + 11 * 24  # real participants, finished or not; simulated only when asked
    client.force_login(other_researcher)
    assert client.get(f"/studies/{analysed_study.slug}/trials/export.csv").status_code == 403
