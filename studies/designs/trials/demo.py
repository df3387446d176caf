"""The demo trials study (``manage.py demo --design trials``), built from a study template's design_settings.

The template (studies/study_templates/cem_maf_two4two.json) names the methods (registered explanation methods
with their parameters and the descriptions participants read), the setup and the pool size; the pool is
computed on the demo checkpoint's held-out images by ``pool_generate``. A study built before from the same
methods is reused; one with other methods is replaced unless real participants took it.
"""
from __future__ import annotations

from typing import Any, Callable

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.designs.common.demo import demo_study_discard
from studies.models import Study
from studies.services import study_launch
from studies.study_templates import StudyTemplate, StudyTemplateError, study_from_template
from studies.study_templates.schema import validation_message

from .services import trial_setup_save
from .services.pool_generation import MethodSpec, pool_generate

SETUP_FIELDS = ("trials_per_participant", "min_instructions_seconds", "prediction_template", "first_question",
                "first_labels", "second_question", "second_labels")


def method_specs(settings: dict[str, Any], source: str) -> list[MethodSpec]:
    try:
        return [MethodSpec(key=m["key"], name=m["name"], description=m["description"], method=m["method"],
                           parameters=dict(m.get("parameters", {}))) for m in settings["methods"]]
    except (KeyError, TypeError) as error:
        raise StudyTemplateError(f"{source}: design_settings.methods: each method needs key, name, description "
                                 f"and method ({error})") from None


def _matches(study: Study, specs: list[MethodSpec]) -> bool:
    stored = list(study.trial_methods.values_list("key", "explanation_method"))
    return study.design == Study.Design.WITHIN_SUBJECT and study.is_live and \
        stored == [(spec.key, spec.method) for spec in specs]


def trials_demo_study(template: StudyTemplate, *, owner, loaded, say: Callable[[str], None]) -> tuple[Study, bool]:
    """(the live demo trials study, whether an existing one was reused)."""
    settings = template.design_settings
    specs = method_specs(settings, template.source)
    study = Study.objects.filter(slug=template.slug).first()
    if study is not None and _matches(study, specs):
        return study, True
    if study is not None:
        demo_study_discard(study, differs="uses other methods", say=say)
    pool_size = int(settings.get("pool_size", 40))
    say(f"  computing {len(specs)} explanations for {pool_size} held-out images")
    with transaction.atomic():
        study = study_from_template(template, owner=owner)
        try:
            trial_setup_save(study=study, **{name: settings[name] for name in SETUP_FIELDS if name in settings})
            pool_generate(study=study, loaded=loaded, methods=specs, count=pool_size,
                          class_names=tuple(settings.get("class_names", ("Sticky", "Stretchy"))))
            study = study_launch(study=study)
        except ValidationError as error:
            raise StudyTemplateError(f"{template.source}: design_settings: {validation_message(error)}") from error
    return study, False
