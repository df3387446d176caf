"""Builders for studies test data (plain functions; no factory library needed)."""
from __future__ import annotations

import io
import itertools

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from studies.models import Condition, Item, Study

_counter = itertools.count(1)


def png_upload(name: str = "stimulus.png", size: int = 16, colour=(200, 30, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def make_user(username: str | None = None, **extra):
    username = username or f"researcher{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password="pw-for-tests-only", **extra)


def make_study(*, owner=None, status=Study.Status.LIVE, platform=Study.Platform.PROLIFIC, conditions=2,
               with_items=True, **fields) -> Study:
    owner = owner or make_user()
    n = next(_counter)
    study = Study.objects.create(
        owner=owner,
        slug=fields.pop("slug", f"study-{n}"),
        title=fields.pop("title", f"Study {n}"),
        status=status,
        platform=platform,
        completion_code=fields.pop("completion_code", "DONE123"),
        attention_fail_code=fields.pop("attention_fail_code", "ATTN456"),
        consent_text="You may stop at any time.",
        instructions_text="Look at the images carefully.",
        **fields,
    )
    for index in range(conditions):
        condition = Condition(study=study, name=f"Condition {index}", slug=f"c{index}", order=index)
        condition.stimulus_image.save(f"c{index}.png", png_upload(), save=False)
        condition.save()
    if with_items:
        add_standard_items(study)
    return study


def add_standard_items(study: Study) -> None:
    Item.objects.create(study=study, key="arms", text="The arms matter.", page=Item.Page.STIMULUS, order=1,
                        group="pattern")
    Item.objects.create(study=study, key="colour", text="The colour matters.", page=Item.Page.STIMULUS, order=2,
                        group="pattern", reverse_coded=True)
    Item.objects.create(study=study, key="attn", text="Please choose 2 here.", page=Item.Page.STIMULUS, order=3,
                        kind=Item.Kind.ATTENTION_CHECK, expected_answer=2, group="attention")
    Item.objects.create(study=study, key="useful", text="The explanation was useful.",
                        page=Item.Page.SATISFACTION, order=1, group="satisfaction")
    Item.objects.create(study=study, key="comments", text="Anything else?", page=Item.Page.FREE_TEXT, order=1,
                        kind=Item.Kind.FREE_TEXT, group="feedback", required=False)


GOOD_STIMULUS_ANSWERS = {"arms": 6, "colour": 3, "attn": 2}
