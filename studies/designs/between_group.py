"""The between-group design of the seed study (Sixt et al., section 3.3): one stimulus per condition.

Each participant is assigned the least-filled condition at consent and answers the study's items on the
shared question pages (stimulus, satisfaction, free text). Its analysis is the Kruskal-Wallis family
analysis of the stats app, so ``analyse`` returns None.
"""
from __future__ import annotations

import random

from studies import selectors
from studies.models import Participant, Study
from studies.services.participants import participant_assign

from .registry import StudyDesign


class BetweenGroupDesign(StudyDesign):
    key = Study.Design.BETWEEN_GROUP
    label = Study.Design.BETWEEN_GROUP.label

    def allocate(self, *, participant: Participant, rng: random.Random | None = None) -> Participant:
        return participant_assign(participant=participant, rng=rng)

    def pages(self, *, participant: Participant) -> list[str]:
        return selectors.participant_pages(participant=participant)

    def launch_problems(self, *, study: Study) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {}
        conditions = list(study.conditions.select_related("stimulus_grid"))
        if not conditions:
            problems.setdefault("conditions", []).append("Add at least one condition.")
        for condition in conditions:
            if condition.stimulus_grid_id is not None and not condition.stimulus_grid.is_ready:
                problems.setdefault("conditions", []).append(
                    f"Condition {condition.slug!r}: its stimulus grid is {condition.stimulus_grid.status}, not ready."
                )
            elif condition.stimulus_grid_id is None and not condition.stimulus_image:
                problems.setdefault("conditions", []).append(
                    f"Condition {condition.slug!r} has no stimulus: link a ready grid or upload an image."
                )
        if not study.items.exists():
            problems.setdefault("items", []).append("Add at least one item.")
        return problems
