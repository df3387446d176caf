"""The rebuild rule of a demo study (``manage.py demo``): reused while it matches what the demo would build,
else rebuilt, but never at the cost of real participants' data."""
from __future__ import annotations

from typing import Callable

from django.db import transaction

from studies.models import Study
from studies.study_templates import StudyTemplateError


def demo_study_discard(study: Study, *, differs: str, say: Callable[[str], None] | None = None) -> None:
    """Delete the outdated demo ``study`` (``differs``: how, e.g. "uses other stimuli") with its simulated
    participants; raises StudyTemplateError, deleting nothing, when real participants took it."""
    if study.participants.filter(is_simulated=False).exists():
        raise StudyTemplateError(f"Study {study.slug!r} already has real participants but {differs}. Rename or "
                                 "delete it in the admin before rebuilding the demo.")
    if say is not None:
        say(f"  replacing study {study.slug!r}: it {differs}")
    with transaction.atomic():
        study.participants.all().delete()
        study.delete()
