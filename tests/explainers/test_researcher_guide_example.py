"""The worked example of docs/RESEARCHER_GUIDE.md, section 8, run command by command as the guide prints it."""
from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command

from explainers.models import StimulusGrid
from tests.explainers.researcher_assets import ROOT, example_module

pytestmark = pytest.mark.django_db


def guide_commands() -> list[str]:
    text = (ROOT / "docs/RESEARCHER_GUIDE.md").read_text(encoding="utf-8")
    block = text.split("<!-- worked-example -->", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def test_the_guide_lists_the_steps_of_the_issue():
    commands = " ".join(guide_commands())
    for step in ("digits_classifier.py", "dataset_import", "model_register", "grad_cam", "integrated_gradients"):
        assert step in commands


def test_the_worked_example_runs_and_its_sets_can_be_attached_to_a_study(django_user_model, tmp_path,
                                                                        django_capture_on_commit_callbacks):
    from studies.services.studies import condition_create, study_create, study_launch_problems

    django_user_model.objects.create_user("ada", is_staff=True)
    ids: dict[str, str] = {}
    for line in guide_commands():
        arguments = shlex.split(line.replace("work/", f"{tmp_path}/"))
        if arguments[0].endswith("python"):
            # The same script; fewer epochs keep the test quick (the guide trains for the default 15).
            example_module().main([*arguments[2:], "--epochs", "3"])
            continue
        assert arguments[0] == "manage.py"
        for flag, kind in (("--dataset", "dataset"), ("--model", "model")):
            if flag in arguments:
                arguments[arguments.index(flag) + 1] = ids[kind]
        out = io.StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command(*arguments[1:], stdout=out)
        found = re.match(r"(dataset|model|stimulus set) (\d+):", out.getvalue())
        assert found, out.getvalue()
        ids[found.group(1)] = found.group(2)
    sets = list(StimulusGrid.objects.filter(kind=StimulusGrid.Kind.PER_IMAGE).order_by("pk"))
    assert [s.method for s in sets] == ["grad_cam", "integrated_gradients"]
    assert all(s.is_ready and s.cells.count() == 24 for s in sets)
    assert Path(tmp_path / "digits_cnn.ts").is_file()
    owner = django_user_model.objects.get(username="ada")
    study = study_create(owner=owner, slug="digits-study", title="Digits explanations", platform="link")
    for stimulus_set in sets:
        condition_create(study=study, name=stimulus_set.name, slug=stimulus_set.method.replace("_", "-"),
                         stimulus_grid=stimulus_set)
    problems = study_launch_problems(study=study)
    assert not any("stimulus" in message.lower() for messages in problems.values() for message in messages), problems
