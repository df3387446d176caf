"""`manage.py demo --design trials`: the counterbalanced trials study on the tiny model, reused on a second run."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from studies.designs.trials.models import ExplanationImage, PoolImage
from studies.study_templates import template_load
from tests.studyserver.test_demo import demo_dirs, tiny_quick_preset  # noqa: F401 (fixtures)

TEMPLATE = template_load("cem_maf_two4two")


@pytest.mark.slow  # four methods on a 40-image pool and a short VAE training: minutes on 2 cores
@pytest.mark.django_db(transaction=True)
def test_demo_builds_the_trials_study_and_reuses_it(tiny_quick_preset, demo_dirs):  # noqa: F811
    from studies.models import Study

    out = io.StringIO()
    call_command("demo", "--quick", "--no-serve", "--design", "trials", stdout=out)
    study = Study.objects.get(slug=TEMPLATE.slug)
    assert study.design == Study.Design.WITHIN_SUBJECT and study.status == Study.Status.LIVE
    assert list(study.trial_methods.values_list("explanation_method", flat=True)) == [
        "cem_maf_pn", "cem_maf_pp", "grad_cam", "lime"]  # the paper's second survey: PN and PP apart
    assert study.trial_setup.trials_per_participant == 24 and study.trial_setup.min_instructions_seconds == 30
    pool = TEMPLATE.design_settings["pool_size"]
    assert PoolImage.objects.filter(study=study).count() == pool
    assert ExplanationImage.objects.filter(method__study=study).count() == 4 * pool
    assert f"/s/{study.slug}/" in out.getvalue()
    # the pertinent negative decoded with the demo VAE, registered as the researcher's generator model
    from explainers.models import RegisteredModel

    generator = RegisteredModel.objects.get(owner=study.owner, kind=RegisteredModel.Kind.GENERATOR)
    assert "VAE" in generator.name
    again = io.StringIO()
    call_command("demo", "--quick", "--no-serve", "--design", "trials", stdout=again)
    assert "study" in again.getvalue().split("reused:")[1]
    assert Study.objects.filter(slug=TEMPLATE.slug).count() == 1
