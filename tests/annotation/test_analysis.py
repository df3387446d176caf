"""The analysis of annotation studies: Table 5's numbers, exclusions, and the shared page, JSON, CSV and command."""
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stats.services import AnalysisError, AnalysisParameters, analysis_run
from studies.designs.annotation.analysis import annotation_analyse
from studies.designs.annotation.models import AnnotationAllocation, AnnotationItem, AnnotationVote
from studies.models import Participant
from studies.services.exclusions import participant_exclude

from .factories import make_annotation_study

pytestmark = pytest.mark.django_db


def cast(study, votes_per_item: dict[str, list[str]], *, status=Participant.Status.COMPLETED, simulated=False,
         prefix="P"):
    """Participant i votes votes_per_item[key][i] on item key (one participant per vote column)."""
    columns = max(len(votes) for votes in votes_per_item.values())
    participants = [Participant.objects.create(study=study, platform=study.platform, external_id=f"{prefix}{i}",
                                               status=status, is_simulated=simulated, current_page="complete")
                    for i in range(columns)]
    for key, votes in votes_per_item.items():
        item = AnnotationItem.objects.get(task__study=study, key=key)
        for participant, choice in zip(participants, votes):
            position = participant.annotation_allocations.count() + 1
            allocation = AnnotationAllocation.objects.create(participant=participant, item=item, position=position,
                                                             placement=[1, 2])
            AnnotationVote.objects.create(allocation=allocation, participant=participant, item=item, choice=choice)
    return participants


def test_majority_vote_accuracy_ties_and_kappa_per_task_and_subcategory():
    study = make_annotation_study(items=4, k=4, per_participant=4)
    # Ground truth: pair-0 "2", pair-1 "1", pair-2 "2", pair-3 "1"; pairs 0-1 are easy, 2-3 hard.
    cast(study, {"pair-0": ["2", "2", "2", "2"], "pair-1": ["1", "1", "1", "2"],
                 "pair-2": ["1", "2", "1", "2"], "pair-3": ["2", "2", "2", "1"]})
    results = annotation_analyse(study=study)
    task = results["tasks"][0]
    overall = task["overall"]
    assert overall["majority_vote"]["successes"] == 2 and overall["majority_vote"]["n"] == 4
    assert overall["majority_vote"]["ties"] == 1
    assert overall["raw_votes"]["successes"] == 4 + 3 + 2 + 1
    assert 0 < overall["majority_vote"]["ci_low"] < 0.5 < overall["majority_vote"]["ci_high"] < 1
    assert overall["fleiss_kappa"]["raters"] == 4 and overall["fleiss_kappa"]["se"] > 0
    subcategories = {sub["name"]: sub for sub in task["subcategories"]}
    assert subcategories["easy"]["majority_vote"]["proportion"] == 1.0
    assert subcategories["hard"]["majority_vote"]["successes"] == 0
    assert subcategories["hard"]["majority_vote"]["ties"] == 1
    assert results["problems"] == []


def test_excluded_participants_do_not_vote_and_short_items_are_reported():
    study = make_annotation_study(items=2, k=2, per_participant=2)
    cast(study, {"pair-0": ["2", "2"], "pair-1": ["1", "1"]})
    cast(study, {"pair-0": ["1", "1"], "pair-1": ["2", "2"]}, status=Participant.Status.ACTIVE, prefix="A")
    cast(study, {"pair-0": ["1"]}, status=Participant.Status.FAILED_ATTENTION, prefix="F")
    cast(study, {"pair-0": ["1"]}, simulated=True, prefix="S")
    # The researcher's exclusion (with its reason) counts here as it does in the between-group analysis.
    dissenter, = cast(study, {"pair-0": ["1"], "pair-1": ["2"]}, prefix="R")
    participant_exclude(participant=dissenter, reason="answered in 40 s")
    results = annotation_analyse(study=study)
    assert results["exclusions"]["counts"] == {"simulated": 1, "incomplete": 2, "failed_attention": 1,
                                               "researcher": 1}
    assert {"participant": dissenter.pk, "reasons": ["researcher"]} in results["exclusions"]["participants"]
    assert results["tasks"][0]["overall"]["majority_vote"]["proportion"] == 1.0
    with_simulated = annotation_analyse(study=study, include_simulated=True)
    assert with_simulated["data_hash"] != results["data_hash"]


def test_items_without_k_votes_are_left_out_and_named():
    study = make_annotation_study(items=2, k=3, per_participant=2)
    cast(study, {"pair-0": ["2", "2", "2"], "pair-1": ["1"]})
    results = annotation_analyse(study=study)
    assert results["tasks"][0]["overall"]["items_with_k_votes"] == 1
    assert "fewer than k = 3" in results["problems"][0]


def test_stats_dispatches_to_the_design_and_renders_page_csv_and_json(client):
    study = make_annotation_study(items=2, k=2, per_participant=2)
    cast(study, {"pair-0": ["2", "2"], "pair-1": ["1", "2"]})
    analysis = analysis_run(study=study, parameters=AnalysisParameters())
    assert analysis.results["design"] == "annotation"
    assert analysis.results["tasks"][0]["key"] == "order"
    client.force_login(study.owner)
    page = client.get(f"/studies/{study.slug}/analysis/")
    assert page.status_code == 200
    assert b"Task-1 (Stretchy)" in page.content and b"Majority-vote accuracy" in page.content
    stored = analysis_run(study=study, reuse=True)
    csv_text = client.get(f"/studies/{study.slug}/analysis/{stored.pk}/download/csv/").content.decode()
    header, overall, *_ = csv_text.splitlines()
    assert header.startswith("task,task_title,subcategory")
    assert overall.startswith("order,Task-1 (Stretchy),,2,2,2,1,0.5")
    html = client.get(f"/studies/{study.slug}/analysis/{stored.pk}/download/html/").content
    assert b"Fleiss" in html


def test_analyze_command_writes_the_json(capsys):
    study = make_annotation_study(items=2, k=2, per_participant=2)
    cast(study, {"pair-0": ["2", "2"], "pair-1": ["1", "1"]})
    call_command("analyze", study.slug, "--format", "json")
    results = json.loads(capsys.readouterr().out)
    assert results["votes_per_item"] == 2
    assert results["tasks"][0]["overall"]["majority_vote"]["proportion"] == 1.0


def test_a_study_nobody_completed_gets_a_clear_error():
    study = make_annotation_study(items=2, k=2)
    with pytest.raises(AnalysisError, match="No participants left"):
        analysis_run(study=study)
    with pytest.raises(CommandError, match="No participants left"):
        call_command("analyze", study.slug)
