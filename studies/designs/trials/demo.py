"""The demo trials study (``manage.py demo --design trials``), built from a study template's design_settings.

The template (studies/study_templates/cem_maf_two4two.json) names the methods (registered explanation methods
with their parameters and the descriptions participants read), the setup and the pool size; the pool is
computed on the demo checkpoint's held-out images by ``pool_generate``. A study built before from the same
methods is reused; one with other methods is replaced unless real participants took it.

Methods that decode with a generator (CEM-MAF's pertinent negative: ``auxiliary=("generator",)``) get the demo
VAE, registered as the demo researcher's generator model and filled into their ``generator_model``: a VAE
shipped for the checkpoint's image size (explainers/checkpoints/two4two-vae-<size>.pt) when the project has
one, else a small VAE trained once on the spot (DEMO_VAE_STEPS steps of the ``vae-two4two`` preset on
DEMO_VAE_IMAGES images, about a minute on a CPU at 64 px) and cached under ARTIFACTS_ROOT/models. Its
reconstructions are blurry, so the demo's pertinent negatives are too: train ``vae-two4two`` (train_model) for
a study, register it, and give its id as generator_model.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
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


#: The on-the-spot demo VAE (see the module docstring): steps and training images.
DEMO_VAE_STEPS = 300
DEMO_VAE_IMAGES = 1500


def demo_generator(*, loaded, owner, say: Callable[[str], None]):
    """(registered generator model, its network) of the checkpoint's image size: shipped, cached or trained."""
    from django.conf import settings

    from explainers.core.training.checkpoints import checkpoint_read
    from explainers.core.training.run import train_to_checkpoint
    from explainers.core.training.shipped import SHIPPED_DIR
    from explainers.core.training.vae import preset as vae_preset
    from explainers.services.checkpoints import checkpoint_register
    from explainers.services.classifiers import model_register_checkpoint

    size = int(loaded.model.config.image_size)
    path = SHIPPED_DIR / f"two4two-vae-{size}.pt"
    if not path.is_file():
        tiny = size <= 16  # the tests' 16 px model: a few steps are enough to exercise the pipeline
        config = vae_preset("vae-two4two", steps=20 if tiny else DEMO_VAE_STEPS,
                            train_size=200 if tiny else DEMO_VAE_IMAGES, val_size=50 if tiny else 200)
        levels = 4 if size >= 64 else 3 if size >= 32 else 2
        config = replace(config, net=replace(config.net, image_size=size, levels=levels))
        path = Path(settings.ARTIFACTS_ROOT) / "models" / f"two4two-demo-vae-{size}-{config.steps}.pt"
        if not path.is_file():
            say(f"  training the demo VAE for the pertinent negatives ({config.steps} steps, once)")
            path.parent.mkdir(parents=True, exist_ok=True)
            train_to_checkpoint(config, path)
    checkpoint = checkpoint_register(path=path, name=f"Two4Two demo VAE {size} px", owner=owner)
    registered = model_register_checkpoint(owner=owner, checkpoint=checkpoint, name=f"Two4Two demo VAE {size} px")
    return registered, checkpoint_read(path).model.eval()


def _with_generator(specs: list[MethodSpec], generator_id: int) -> list[MethodSpec]:
    from explainers.core.methods.registry import auxiliary_field, method_get

    return [MethodSpec(key=s.key, name=s.name, description=s.description, method=s.method,
                       parameters={**s.parameters, auxiliary_field("generator"): generator_id})
            if "generator" in method_get(s.method).auxiliary else s for s in specs]


def _matches(study: Study, specs: list[MethodSpec]) -> bool:
    stored = list(study.trial_methods.values_list("key", "explanation_method"))
    return study.design == Study.Design.WITHIN_SUBJECT and study.is_live and \
        stored == [(spec.key, spec.method) for spec in specs]


def _uses_generator(spec: MethodSpec) -> bool:
    from explainers.core.methods.registry import MethodError, method_get

    try:
        return "generator" in method_get(spec.method).auxiliary
    except MethodError:
        return False  # an unknown method is reported by pool_generate with the others


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
    auxiliaries = {}
    if any(_uses_generator(spec) for spec in specs):
        registered, network = demo_generator(loaded=loaded, owner=owner, say=say)
        specs, auxiliaries = _with_generator(specs, registered.pk), {"generator": network}
    say(f"  computing {len(specs)} explanations for {pool_size} held-out images")
    with transaction.atomic():
        study = study_from_template(template, owner=owner)
        try:
            trial_setup_save(study=study, **{name: settings[name] for name in SETUP_FIELDS if name in settings})
            pool_generate(study=study, loaded=loaded, methods=specs, count=pool_size,
                          class_names=tuple(settings.get("class_names", ("Sticky", "Stretchy"))),
                          auxiliaries=auxiliaries)
            study = study_launch(study=study)
        except ValidationError as error:
            raise StudyTemplateError(f"{template.source}: design_settings: {validation_message(error)}") from error
    return study, False
