"""Builders for annotation studies: tiny tasks with uploaded 8-pixel images."""
from __future__ import annotations

import itertools

from studies.designs.annotation import services
from studies.models import Study
from tests.studies.factories import make_user, png_upload

_counter = itertools.count(1)
WHAT_CHANGES = ["arms", "colour", "background", "block shape"]


def image(colour=(200, 30, 30)) -> dict:
    return {"image": png_upload(f"a{next(_counter)}.png", size=8, colour=colour)}


def make_annotation_study(*, owner=None, items=4, k=2, per_participant=2, status=Study.Status.LIVE,
                          platform=Study.Platform.PROLIFIC, attention=False, **settings_fields) -> Study:
    """A study with one two-alternative task (easy/hard pairs) and, with ``attention``, one attention item."""
    owner = owner or make_user(is_staff=True)
    n = next(_counter)
    study = Study.objects.create(owner=owner, slug=f"annotation-{n}", title=f"Annotation {n}",
                                 design=Study.Design.ANNOTATION, platform=platform, completion_code="DONE",
                                 attention_fail_code="FAILED")
    services.annotation_settings_save(study=study, votes_per_item=k, items_per_participant=per_participant,
                                      **settings_fields)
    order = services.annotation_task_create(study=study, key="order", title="Task-1 (Stretchy)",
                                            question="In which image is the animal more stretchy?",
                                            answer_kind="two_alternative")
    for index in range(items):
        services.annotation_item_create(task=order, key=f"pair-{index}", ground_truth="1" if index % 2 else "2",
                                        subcategory="easy" if index < items / 2 else "hard",
                                        images=[image(), image((30, 30, 200))])
    if attention:
        check = services.annotation_task_create(study=study, key="changing", title="Task-2 (What is changing)",
                                                question="What is changing in the images?",
                                                choices=WHAT_CHANGES, order=1)
        services.annotation_item_create(task=check, key="attention", ground_truth="colour", is_attention=True,
                                        images=[image(), image((0, 200, 0)), image((0, 0, 0))])
    if status != Study.Status.DRAFT:
        Study.objects.filter(pk=study.pk).update(status=status)
        study.refresh_from_db()
    return study
