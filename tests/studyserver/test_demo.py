"""`manage.py demo`: the whole pipeline on a tiny model, its reuse on a second run, and its bad input."""
from __future__ import annotations

import io
import socket

import pytest
from django.core.management import CommandError, call_command

from studies.study_templates import StudyTemplateError, seed_template, study_from_template
from studyserver import demo

SEED = seed_template()


@pytest.fixture
def tiny_quick_preset(monkeypatch):
    """Replace the quick preset by a 16 px model that trains in seconds; the pipeline around it is real."""
    from explainers.core.nets import GlowConfig
    from explainers.core.training import glow as training

    tiny = training.TrainConfig(
        net=GlowConfig(image_size=16, levels=2, steps_per_level=1, hidden_channels=8, head_steps=1),
        steps=20, batch_size=16, learning_rate=2e-3, warmup_steps=5, train_size=200, val_size=100, eval_every=20,
    )
    monkeypatch.setitem(training.PRESETS, "quick", tiny)
    return tiny


@pytest.fixture
def demo_dirs(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.STATIC_ROOT = tmp_path / "static"
    settings.GRID_CACHE_DIR = str(tmp_path / "grid_cache")
    return tmp_path


def _run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--quick", "--no-serve", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_builds_the_seed_study_reuses_it_and_retrains_a_stale_checkpoint(tiny_quick_preset, demo_dirs,
                                                                             settings):
    from explainers.models import StimulusGrid
    from stats.models import Hypothesis
    from studies.models import Item, Study

    first = _run_demo()
    study = Study.objects.get(slug=SEED.slug)
    assert study.status == Study.Status.LIVE
    assert sorted(study.conditions.values_list("slug", flat=True)) == ["baseline", "counterfactual"]
    assert all(c.stimulus_grid.status == StimulusGrid.Status.READY for c in study.conditions.all())
    assert sorted(study.conditions.values_list("stimulus_grid__method", flat=True)) == [
        "counterfactual_interpolation", "example_based"]
    pattern = list(study.items.filter(group="pattern").order_by("order").values_list("key", flat=True))
    assert pattern == [item.key for item in SEED.items if item.group == "pattern"]
    assert study.items.filter(group="satisfaction", scale_points=7).count() == len(
        [item for item in SEED.items if item.group == "satisfaction"])
    attention = study.items.get(kind=Item.Kind.ATTENTION_CHECK)
    assert attention.expected_answer == next(item.expected_answer for item in SEED.items if item.key == "attention")
    assert "golden frame" in study.instructions_text
    assert set(Hypothesis.objects.filter(study=study).values_list("key", flat=True)) == {
        h.key for h in SEED.hypotheses}
    for label in ("Participant URL", "Admin", "Dashboard", "Analysis", "Researcher login"):
        assert label in first
    assert "PROLIFIC_PID=" in first and f"/s/{SEED.slug}/" in first
    assert "training" in first or "[2/5]" in first  # progress is shown

    second = _run_demo()
    assert "reused: checkpoint, example_based grid, counterfactual_interpolation grid, study" in second
    assert Study.objects.count() == 1 and StimulusGrid.objects.count() == 2

    cached = settings.ARTIFACTS_ROOT / "models" / "two4two-quick.pt"
    cached.write_bytes(cached.read_bytes()[:1000])  # truncated, as after a crash or a bad copy
    third = _run_demo()
    assert "is unusable" in third and "training a new one" in third
    assert "The demo study is ready" in third
    # New checkpoint, new grids, so the study (which has no real participants) is rebuilt on them.
    assert "replacing study" in third
    study = Study.objects.get(slug=SEED.slug)
    assert study.status == Study.Status.LIVE
    assert all(c.stimulus_grid.checkpoint.sha256 != "" for c in study.conditions.all())


@pytest.mark.django_db(transaction=True)
def test_a_port_in_use_stops_the_demo_before_any_work(tiny_quick_preset, demo_dirs):
    from studies.models import Study

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} on 127.0.0.1 is already in use"):
            call_command("demo", "--quick", "--port", str(port), stdout=io.StringIO())
    assert not Study.objects.exists()


def test_an_unwritable_media_folder_gets_a_clear_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(demo.DemoError, match="Cannot write to .*a-file/media.*MEDIA_ROOT"):
        demo.check_writable([blocker / "media"])


@pytest.mark.django_db
def test_the_study_is_built_all_or_nothing(django_user_model):
    """A failure half-way (here: a hypothesis naming an item the study lacks) leaves nothing behind."""
    import dataclasses

    from studies.models import Condition, Item, Study
    from studies.study_templates.schema import HypothesisSpec

    broken = dataclasses.replace(SEED, hypotheses=(HypothesisSpec(
        key="H1", kind="proportion_agree", parameters={"item": "nonexistent", "condition": "baseline",
                                                       "threshold": 0.5}, description="broken"),))
    owner = django_user_model.objects.create(username="r", is_staff=True)
    with pytest.raises(StudyTemplateError, match="hypothesis 'H1'.*'nonexistent' is not a Likert item"):
        study_from_template(broken, owner=owner, grids={"example_based": None, "counterfactual_interpolation": None},
                            launch=True)
    assert not Study.objects.exists() and not Condition.objects.exists() and not Item.objects.exists()
