"""Simulated participants: bots drive the real participant pages, are flagged, and fail loudly when stuck."""
from __future__ import annotations

import io
import json
import time
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from stats.services.exports import response_rows
from studies import simulation
from studies.models import Participant, Response, Study
from studies.simulation import runner

from .factories import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def example_study(db):
    call_command("load_example_study", stdout=io.StringIO())
    return Study.objects.get(slug="example-study")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate_participants", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_bots_complete_the_example_study_balanced_and_flagged(example_study):
    output = _run("example-study", "--n", "6", "--seed", "3")

    participants = Participant.objects.filter(study=example_study)
    assert participants.count() == 6
    assert all(p.is_simulated for p in participants)
    assert Counter(p.status for p in participants) == {"completed": 6}
    assert Counter(p.condition.slug for p in participants) == {"baseline": 3, "counterfactual": 3}
    required = {item.key for item in example_study.items.filter(required=True)}
    for participant in participants:
        answered = set(participant.responses.values_list("item__key", flat=True))
        assert required <= answered
        assert participant.responses.get(item__key="attention").value_int == 3
    assert "completed: 6" in output and "stuck: 0" in output
    assert "baseline: 3 / 0 / 0 / 0" in output and "pages/s" in output


def test_prolific_bots_enter_with_sim_ids_and_are_redirected_with_the_code(researcher):
    study = make_study(owner=researcher, slug="prolific-sim", platform=Study.Platform.PROLIFIC)
    report = simulation.simulation_run(study=study, n=4, seed=1, attention_fail_share=0.25)

    assert report.count("completed") == 3 and report.count("failed_attention") == 1 and not report.stuck
    participants = list(Participant.objects.filter(study=study))
    assert all(p.is_simulated and p.external_id.startswith("SIM-") for p in participants)
    assert all(p.platform_session_id.startswith("SIM-SESSION-") for p in participants)
    failed = [p for p in participants if p.status == Participant.Status.FAILED_ATTENTION]
    assert len(failed) == 1 and failed[0].attention_failed
    assert failed[0].responses.get(item__key="attn").value_int != 2


def test_abandoning_bots_stay_active_and_attention_failures_are_recorded(researcher):
    study = make_study(owner=researcher, slug="abandon-sim", platform=Study.Platform.LINK)
    output = _run(study.slug, "--n", "6", "--abandon-share", "0.34", "--attention-fail-share", "0.17")

    statuses = Counter(Participant.objects.filter(study=study).values_list("status", flat=True))
    assert statuses == {"completed": 3, "active": 2, "failed_attention": 1}
    assert "abandoned midway (left active): 2" in output and "failed the attention check: 1" in output
    # Abandoned participants keep their place (active within the cutoff): places stay balanced.
    taken = Counter(Participant.objects.filter(study=study, status__in=["completed", "active"])
                    .values_list("condition__slug", flat=True))
    assert max(taken.values()) - min(taken.values()) <= 1


def test_policy_file_decides_the_answers_per_condition(researcher, tmp_path):
    study = make_study(owner=researcher, slug="policy-sim")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"c0": {"arms": [0, 0, 0, 0, 0, 0, 1]}, "c1": {"arms": [1, 0, 0, 0, 0, 0, 0]},
                                  "*": {"useful": [0, 0, 0, 5, 0, 0, 0]}}))
    _run(study.slug, "--n", "4", "--policy", str(policy))

    arms = {(r.participant.condition.slug, r.value_int)
            for r in Response.objects.filter(item__key="arms").select_related("participant__condition")}
    assert arms == {("c0", 7), ("c1", 1)}
    assert set(Response.objects.filter(item__key="useful").values_list("value_int", flat=True)) == {4}


def test_default_policy_follows_the_reported_shares(example_study):
    from studies.study_templates import reported_answer_shares

    REPORTED_SHARES = reported_answer_shares().per_item

    policy = simulation.policy_default(simulation.study_spec_from(example_study))
    weights = policy["counterfactual"]["arms"]
    agree, neutral, disagree = REPORTED_SHARES["counterfactual"]["arms"]
    assert len(weights) == 7 and sum(weights) == pytest.approx(1.0)
    assert sum(weights[4:]) == pytest.approx(agree / 100)
    assert weights[3] == pytest.approx(neutral / 100)
    assert sum(weights[:3]) == pytest.approx(disagree / 100)
    assert "attention" not in policy["baseline"]  # attention checks follow --attention-fail-share
    assert sum(policy["baseline"]["satisfying"][4:]) == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["arms"]', "expected a JSON object"),
        ('{"c0": {"arms": [1, 2, 3]}}', "give a list of 7 weights (one per scale point), got 3"),
        ('{"nope": {"arms": [1, 1, 1, 1, 1, 1, 1]}}', "unknown condition 'nope'"),
        ('{"c0": {"elbows": [1, 1, 1, 1, 1, 1, 1]}}', "no Likert item 'elbows'"),
        ('{"c0": {"comments": [1, 1, 1, 1, 1, 1, 1]}}', "no Likert item 'comments'"),
        ('{"c0": {"attn": [1, 1, 1, 1, 1, 1, 1]}}', "attention checks follow --attention-fail-share"),
        ('{"c0": {"arms": [1, 1, 1, -1, 1, 1, 1]}}', "finite non-negative numbers, got -1"),
        ('{"c0": {"arms": [0, 0, 0, 0, 0, 0, 0]}}', "at least one weight must be positive"),
        ('{"c0": ["arms"]}', "must map item keys to weight lists"),
    ],
)
def test_bad_policy_files_get_a_clear_error_and_change_nothing(researcher, tmp_path, content, message):
    study = make_study(owner=researcher, slug="bad-policy")
    policy = tmp_path / "policy.json"
    policy.write_text(content)
    with pytest.raises(CommandError, match="policy.json") as error:
        _run(study.slug, "--n", "2", "--policy", str(policy))
    assert message in str(error.value)
    assert not Participant.objects.filter(study=study).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--n", "0"], "--n must be at least 1"),
        (["--abandon-share", "1.5"], "--abandon-share must lie between 0 and 1"),
        (["--abandon-share", "0.6", "--attention-fail-share", "0.6"], "together must not exceed 1"),
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--policy", "/nonexistent/policy.json"], "Cannot read the policy file"),
        (["--base-url", "localhost:8000"], "--base-url must start with http"),
    ],
)
def test_bad_arguments_are_refused_before_any_participant_enters(researcher, args, message):
    study = make_study(owner=researcher, slug="bad-args")
    with pytest.raises(CommandError, match=message):
        _run(study.slug, *args)
    assert not Participant.objects.filter(study=study).exists()


def test_a_study_that_is_not_live_or_unknown_is_refused(researcher):
    draft = make_study(owner=researcher, slug="draft-sim", status=Study.Status.DRAFT)
    with pytest.raises(CommandError, match="is draft"):
        _run(draft.slug)
    with pytest.raises(CommandError, match="No study with the slug"):
        _run("missing-study")


def test_a_minimum_viewing_time_is_simulated_not_slept_through(researcher):
    from studies.models import PageVisit

    study = make_study(owner=researcher, slug="slow-page-sim", min_stimulus_seconds=90)
    started = time.perf_counter()
    report = simulation.simulation_run(study=study, n=2)
    assert report.count("completed") == 2 and time.perf_counter() - started < 60
    seconds = PageVisit.objects.filter(participant__study=study, page="stimulus").values_list("seconds", flat=True)
    assert len(seconds) == 2 and all(90 < s < 112 for s in seconds)


class _BrokenStimulusPage(simulation.ClientTransport):
    """A template regression: the stimulus page renders the 'arms' radio buttons under another name."""

    def request(self, method, url, *, data=None, referer=None):
        result = super().request(method, url, data=data, referer=referer)
        if url.endswith("/stimulus/") and method == "GET":
            result = simulation.HttpResult(result.status, result.url, result.location,
                                           result.text.replace('name="item-arms"', 'name="item-elbows"'))
        return result


def test_a_page_without_the_expected_field_makes_the_run_fail_with_a_clear_message(researcher, monkeypatch):
    study = make_study(owner=researcher, slug="stuck-sim")
    monkeypatch.setattr(runner, "ClientTransport", _BrokenStimulusPage)
    err = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("simulate_participants", study.slug, "--n", "2", stdout=io.StringIO(), stderr=err)
    message = str(error.value)
    assert "2 simulated participant(s) got stuck" in message
    assert "page 'stimulus' does not offer the field(s) item-arms the bot is about to submit" in message
    assert "STUCK" in err.getvalue()
    # Stuck bots submit nothing on the broken page.
    assert not Response.objects.filter(participant__study=study).exists()


class _RedirectLoop:
    def request(self, method, url, *, data=None, referer=None):
        return simulation.HttpResult(302, url, "/s/loop-sim/p/abc:sig/consent/", "")


def test_a_redirect_loop_is_reported_not_followed_forever(researcher):
    study = make_study(owner=researcher, slug="loop-sim")
    spec = simulation.study_spec_from(study)
    plan = simulation.BotPlan(index=0, external_id="SIM-x-0", abandon_at=None, fail_attention=False, seed=0)

    class _Registry(simulation.ParticipantRegistry):
        def mark_simulated(self, token):
            assert token == "abc"

    bot = simulation.Bot(plan=plan, spec=spec, policy=simulation.ResponsePolicy(), transport=_RedirectLoop(),
                         registry=_Registry(study.slug), completion_base_url="https://app.prolific.com/x")
    outcome = bot.run()
    assert outcome.status == "stuck" and "redirect loop" in outcome.error


def test_a_full_study_stops_the_extra_bot_with_the_page_it_saw(researcher):
    study = make_study(owner=researcher, slug="full-sim", target_per_condition=1)
    report = simulation.simulation_run(study=study, n=3)
    assert report.count("completed") == 2 and len(report.stuck) == 1
    # Simulated places are counted apart from real ones, so the extra bot is turned away when it asks for a
    # condition (at consent), not at the entry that real participants would still pass.
    assert "submitting page 'consent' was refused" in report.stuck[0].error
    assert study.participants.filter(is_simulated=True, condition__isnull=True).count() == 1


def test_simulated_records_are_left_out_of_exports_and_analyses_unless_asked_for(researcher):
    from stats.services import AnalysisError, AnalysisParameters, analysis_run

    study = make_study(owner=researcher, slug="excluded-sim")
    simulation.simulation_run(study=study, n=4)
    assert response_rows(study=study) == []
    assert len({row["participant"] for row in response_rows(study=study, include_simulated=True)}) == 4
    with pytest.raises(AnalysisError, match="include_simulated"):
        analysis_run(study=study)
    analysis = analysis_run(study=study, parameters=AnalysisParameters(include_simulated=True))
    assert analysis.results["exclusions"]["included"] == 4


def test_page_parser_reads_forms_buttons_and_messages():
    page = simulation.page_parse(
        '<h1>Consent</h1><p class="error" role="alert">Please  answer.</p>'
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="tok">'
        '<input type="radio" name="item-a" value="1"><input type="radio" name="item-a" value="2">'
        '<textarea name="item-t"></textarea><button type="submit" name="action" value="next">Go</button>'
        '<button type="button" name="x" value="y">Not a submit</button></form>'
    )
    form = page.post_form()
    assert page.heading == "Consent" and page.messages == ["Please answer."]
    assert form.hidden("csrfmiddlewaretoken") == "tok" and form.fields["item-a"].values == ["1", "2"]
    assert form.fields["item-t"].kind == "textarea"
    assert form.buttons == [("action", "next")]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_concurrent_participants_on_the_embedded_sqlite_database_never_see_a_503(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "MEDIA_ROOT": str(tmp_path / "m"),
           "PYTHONUNBUFFERED": "1"}

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=240)

    assert manage("migrate", "-v0").returncode == 0
    assert manage("load_example_study").returncode == 0
    run = manage("simulate_participants", "example-study", "--n", "12", "--concurrency", "4")
    assert run.returncode == 0, run.stdout[-800:] + run.stderr[-1500:]


def test_simulated_participants_do_not_take_the_places_of_real_ones(researcher):
    from studies import services

    study = make_study(owner=researcher, slug="places-sim", target_per_condition=1)
    assert simulation.simulation_run(study=study, n=2).count("completed") == 2
    real = services.participant_enter(study=study, identity=services.PlatformIdentity(
        platform=study.platform, external_id="REAL-1"))
    assert services.participant_consent(participant=real, agreed=True).condition is not None
