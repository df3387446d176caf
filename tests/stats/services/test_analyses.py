"""Study analysis service: exclusions, families, reproducibility hash, hypotheses' verdicts, bad input."""
from __future__ import annotations

import pytest

from stats.models import Analysis
from stats.services import AnalysisError, AnalysisParameters, analysis_compute, analysis_run, hypothesis_create
from stats.services.exports import participant_pseudonyms
from studies.models import Response

from ..factories import make_item, make_participant, make_study, seed_like_study

pytestmark = pytest.mark.django_db


def _item(results, key):
    return next(item for item in results["items"] if item["key"] == key)


def test_it_analyses_each_item_across_conditions_with_the_documented_fields():
    study = seed_like_study()
    analysis = analysis_run(study=study)
    results = analysis.results
    assert results["conditions"] == ["cf", "bl"]
    assert results["participants_per_condition"] == {"cf": 8, "bl": 8}
    assert [item["key"] for item in results["items"]] == ["arms", "color", "bg", "helpful"]
    arms = _item(results, "arms")
    assert set(arms["conditions"]["cf"]) >= {"n", "median", "iqr", "mean", "pct_disagree", "pct_neutral", "pct_agree"}
    assert set(arms["test"]) >= {"H", "df", "p", "p_adjusted", "correction", "epsilon_squared", "eta_squared_h",
                                 "significant", "status"}
    assert arms["family"] == "pattern" and arms["test"]["family_size"] == 3
    assert arms["test"]["p_adjusted"] == pytest.approx(min(1, 3 * arms["test"]["p"]))
    assert _item(results, "helpful")["test"]["family_size"] == 1
    assert _item(results, "bg")["conditions"]["cf"]["pct_agree"] == 100.0  # reverse-coded
    assert Analysis.objects.get().parameters["correction"] == "bonferroni"


def test_same_data_gives_the_same_hash_and_results_and_changed_data_a_new_hash():
    study = seed_like_study()
    first = analysis_run(study=study)
    second = analysis_run(study=study)
    assert first.pk != second.pk
    assert first.data_hash == second.data_hash and first.results == second.results
    assert analysis_run(study=study, reuse=True).pk == second.pk
    response = Response.objects.filter(item__key="arms").first()
    response.value_int = 1
    response.save()
    assert analysis_run(study=study).data_hash != first.data_hash


def test_exclusions_are_applied_and_listed_with_reasons():
    study = seed_like_study(min_stimulus_seconds=30)
    complete = {"arms": 1, "color": 1, "bg": 7, "helpful": 1, "check": 2}
    sim = make_participant(study, "cf", complete, is_simulated=True)
    careless = make_participant(study, "cf", {**complete, "check": 6})
    flagged = make_participant(study, "bl", complete, status="failed_attention", attention_failed=True)
    fast = make_participant(study, "bl", complete, stimulus_seconds=4.0)
    unfinished = make_participant(study, "bl", complete, status="active")
    results = analysis_run(study=study).results
    exclusions = results["exclusions"]
    assert exclusions["included"] == 16 and exclusions["excluded"] == 5
    assert exclusions["counts"] == {"simulated": 1, "incomplete": 1, "failed_attention": 2, "too_fast": 1}
    reasons = {row["participant"]: row["reasons"] for row in exclusions["participants"]}
    # Participants are listed under their export pseudonym (no database or platform ids in results).
    pseudonym = participant_pseudonyms(study)
    assert reasons == {pseudonym[sim.pk]: ["simulated"], pseudonym[careless.pk]: ["failed_attention"],
                       pseudonym[flagged.pk]: ["failed_attention"], pseudonym[fast.pk]: ["too_fast"],
                       pseudonym[unfinished.pk]: ["incomplete"]}
    assert results["participants_per_condition"] == {"cf": 8, "bl": 8}
    with_sim = analysis_run(study=study, parameters=AnalysisParameters(include_simulated=True)).results
    assert with_sim["participants_per_condition"]["cf"] == 9
    assert with_sim["data_hash"] != results["data_hash"]


def test_simulated_only_study_is_refused_unless_asked_for():
    study = make_study()
    make_item(study, "arms")
    for value, slug in ((1, "cf"), (2, "cf"), (6, "bl"), (7, "bl")):
        make_participant(study, slug, {"arms": value}, is_simulated=True)
    with pytest.raises(AnalysisError, match="all 4 excluded .*simulated: 4.*include_simulated"):
        analysis_run(study=study)
    assert not Analysis.objects.exists()
    analysis = analysis_run(study=study, parameters=AnalysisParameters(include_simulated=True))
    assert analysis.results["items"][0]["test"]["status"] == "ok"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("empty", "no participants yet"),
        ("one_condition", "1 condition.*at least two"),
        ("no_items", "no Likert items"),
        ("text_value", "'agree' is not a numeric response"),
        ("out_of_range", "9 is not a point of the 1..7 scale"),
    ],
)
def test_bad_studies_get_a_clear_error_and_nothing_is_stored(setup, message):
    study = make_study(conditions=("cf",) if setup == "one_condition" else ("cf", "bl"))
    if setup != "no_items":
        make_item(study, "arms")
    if setup in ("text_value", "out_of_range", "one_condition"):
        bad = {"text_value": "agree", "out_of_range": 9}.get(setup, 3)
        make_participant(study, "cf", {"arms": bad})
        if setup != "one_condition":
            make_participant(study, "bl", {"arms": 4})
    elif setup == "no_items":
        make_participant(study, "cf", {})
    with pytest.raises(AnalysisError, match=message):
        analysis_run(study=study)
    assert not Analysis.objects.exists()


def test_unknown_correction_is_refused():
    with pytest.raises(AnalysisError, match="Unknown correction method 'none'"):
        analysis_compute(study=seed_like_study(n_per_condition=2), parameters=AnalysisParameters(correction="none"))


def test_item_without_answers_is_a_listed_problem_not_a_result():
    study = seed_like_study(n_per_condition=4)
    make_item(study, "maturity")
    results = analysis_run(study=study).results
    maturity = _item(results, "maturity")
    assert maturity["test"]["status"] == "no_answers" and maturity["test"]["significant"] is False
    assert results["problems"] == ["No test possible: item 'maturity' has no answers."]


def test_configured_families_change_the_correction():
    study = seed_like_study()
    params = AnalysisParameters(families={"all": ["arms", "color", "bg", "helpful"]}, correction="holm")
    results = analysis_run(study=study, parameters=params).results
    assert results["families"] == {"all": ["arms", "color", "bg", "helpful"]}
    assert all(item["test"]["family_size"] == 4 and item["test"]["correction"] == "holm" for item in results["items"])


# --- hypotheses -----------------------------------------------------------------------------------
def test_preregistered_hypotheses_are_evaluated_with_verdicts():
    study = seed_like_study()
    hypothesis_create(study=study, key="h1", kind="proportion_agree",
                      parameters={"item": "arms", "condition": "bl", "threshold": 0.8}, description="H1")
    hypothesis_create(study=study, key="h7", kind="condition_greater",
                      parameters={"item": "arms", "higher": "cf", "lower": "bl"})
    hypothesis_create(study=study, key="h11", kind="condition_greater",
                      parameters={"item": "helpful", "higher": "cf", "lower": "bl"})
    verdicts = {h["key"]: h["verdict"] for h in analysis_run(study=study).results["hypotheses"]}
    # bl answers to arms: 5,6,4,5,6,3,5,6 -> 6/8 = 75% agree < 80%.
    assert verdicts == {"h1": "rejected", "h7": "confirmed", "h11": "rejected"}
