"""Builders of trials studies for the tests: k methods, a pool with one explanation per method and image."""
from __future__ import annotations

from studies.designs.trials import services
from studies.models import Study

from ...factories import make_study, png_upload

METHOD_KEYS = ("cem", "lime", "gradcam", "pn")


def make_trials_study(*, owner=None, methods: int = 3, pool: int = 30, trials: int | None = None,
                      launch: bool = True, min_instructions_seconds: int = 0, **fields) -> Study:
    study = make_study(owner=owner, status=Study.Status.DRAFT, conditions=0, with_items=False,
                       design=Study.Design.WITHIN_SUBJECT, **fields)
    pairs = methods * (methods - 1)
    services.trial_setup_save(study=study, trials_per_participant=trials or (24 if pairs <= 6 else pairs * 2),
                              min_instructions_seconds=min_instructions_seconds)
    created = [services.trial_method_create(study=study, key=METHOD_KEYS[i], name=METHOD_KEYS[i].upper(),
                                            description=f"Description of method {i + 1}.", order=i)
               for i in range(methods)]
    for index in range(pool):
        image = services.pool_image_create(study=study, key=f"img-{index}", image=png_upload(f"o{index}.png"),
                                           prediction="Stretchy" if index % 2 else "Sticky", order=index)
        for method in created:
            services.explanation_image_set(method=method, pool_image=image,
                                           image=png_upload(f"{method.key}{index}.png", colour=(20, 20, 200)))
    if launch:
        from studies.services import study_launch

        study = study_launch(study=study)
    return study
