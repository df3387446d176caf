"""Configuring a trials study: its setup, methods, pool images and explanation images.

Every problem is reported when the study is configured (``setup_problems``, shown before launch and refused by
``study_launch``), never in front of a participant: a pool image that some method does not explain, a number of
trials that cannot balance the method pairs, too few images for a list without repeats. Once participants have
trial lists, what they were shown is frozen (the models' clean refuses changes, in the API and the admin alike).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from studies.models import Study
from studies.services.locks import study_lock

from ..models import ExplanationImage, PoolImage, TrialMethod, TrialSetup
from .counterbalancing import balance_problem


def complete_pool(*, study: Study) -> tuple[list[TrialMethod], list[PoolImage]]:
    """The study's methods and the pool images that every one of them explains (the trials' pool)."""
    methods = list(TrialMethod.objects.filter(study=study))
    explained: dict[int, set[int]] = {}
    for method_id, image_id in ExplanationImage.objects.filter(method__study=study).values_list(
            "method_id", "pool_image_id"):
        explained.setdefault(image_id, set()).add(method_id)
    wanted = {m.pk for m in methods}
    images = [image for image in PoolImage.objects.filter(study=study) if wanted <= explained.get(image.pk, set())]
    return methods, images


def setup_problems(*, study: Study) -> dict[str, list[str]]:
    """What keeps a trials study from going live, keyed by what to fix."""
    problems: dict[str, list[str]] = {}
    setup = TrialSetup.objects.filter(study=study).first()
    if setup is None:
        return {"trial_setup": ["Add the trial setup (questions, scale labels, number of trials)."]}
    errors = setup.content_errors()
    if errors:
        problems["trial_setup"] = [f"{name}: {message}" for name, message in errors.items()]
    methods, complete = complete_pool(study=study)
    pool = list(PoolImage.objects.filter(study=study))
    missing = []
    for method in methods:
        have = set(method.explanations.values_list("pool_image_id", flat=True))
        lacking = [image.key for image in pool if image.pk not in have]
        if lacking:
            shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5 else "")
            missing.append(f"Method {method.key!r} has no explanation for pool image(s) {shown}: add them or "
                           "remove those images from the pool.")
    if missing:
        problems["trial_methods"] = missing
    balance = balance_problem(methods=len(methods), trials=setup.trials_per_participant, pool=len(complete))
    if balance:
        problems.setdefault("trials", []).append(balance)
    if not pool:
        problems.setdefault("trial_pool", []).append("Add pool images with an explanation from every method.")
    return problems


def trial_setup_save(*, study: Study, **fields: Any) -> TrialSetup:
    """Create or update the study's trial setup; refused once participants have trial lists."""
    with transaction.atomic():
        study = study_lock(study.pk)
        setup = TrialSetup.objects.filter(study=study).first() or TrialSetup(study=study)
        for name, value in fields.items():
            setattr(setup, name, value)
        setup.full_clean()
        setup.save()
        return setup


def trial_method_create(*, study: Study, key: str, name: str, description: str, explanation_method: str = "",
                        stimulus_grid=None, order: int = 0) -> TrialMethod:
    with transaction.atomic():
        study = study_lock(study.pk)
        if explanation_method:
            from explainers.core.methods.registry import MethodError, method_get

            try:
                method_get(explanation_method)
            except MethodError as error:
                raise ValidationError({"explanation_method": str(error)}) from None
        method = TrialMethod(study=study, key=key, name=name, description=description,
                             explanation_method=explanation_method, stimulus_grid=stimulus_grid, order=order)
        method.full_clean()
        method.save()
        return method


def pool_image_create(*, study: Study, key: str, image, prediction: str, source_index: int | None = None,
                      order: int = 0) -> PoolImage:
    """A pool image from an upload (a File) or a path already under MEDIA_ROOT (a str)."""
    with transaction.atomic():
        study = study_lock(study.pk)
        pool_image = PoolImage(study=study, key=key, prediction=prediction, source_index=source_index, order=order)
        _attach(pool_image, image, f"{study.slug}-{key}")
        pool_image.full_clean()
        pool_image.save()
        return pool_image


def explanation_image_set(*, method: TrialMethod, pool_image: PoolImage, image) -> ExplanationImage:
    """Set what ``method`` shows for ``pool_image`` (an upload or a path under MEDIA_ROOT)."""
    with transaction.atomic():
        study_lock(method.study_id)
        explanation = ExplanationImage.objects.filter(method=method, pool_image=pool_image).first() or \
            ExplanationImage(method=method, pool_image=pool_image)
        _attach(explanation, image, f"{method.study.slug}-{method.key}-{pool_image.key}")
        explanation.full_clean()
        explanation.save()
        return explanation


def _attach(instance, image, name: str) -> None:
    if isinstance(image, str):
        path = Path(settings.MEDIA_ROOT, image).resolve()
        if not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve()) or not path.is_file():
            raise ValidationError({"image": f"{image!r} is not a file under MEDIA_ROOT."})
        instance.image.name = image
    else:
        instance.image.save(f"{name}{Path(getattr(image, 'name', '') or '.png').suffix or '.png'}", image,
                            save=False)
