"""The annotation design registered with the study-design registry.

Pages: consent, instructions (shared), then "annotate" (this design's own page, one item per view until the
participant's items are answered), then complete. Allocation, votes and analysis live in services/,
analysis.py and selectors.py; this class connects them to the shared participant flow.
"""
from __future__ import annotations

import random
from typing import Any

from studies.designs.registry import COMPLETE_PAGE, CONSENT_PAGE, StudyDesign
from studies.models import Participant, Study

from . import services


class AnnotationDesign(StudyDesign):
    key = Study.Design.ANNOTATION
    label = Study.Design.ANNOTATION.label
    own_pages = (services.ANNOTATE_PAGE,)

    def allocate(self, *, participant: Participant, rng: random.Random | None = None) -> Participant:
        return services.annotation_allocate(participant=participant, rng=rng)

    def has_allocation(self, *, participant: Participant) -> bool:
        return participant.annotation_allocations.exists()

    def pages(self, *, participant: Participant) -> list[str]:
        return [CONSENT_PAGE, "instructions", services.ANNOTATE_PAGE, COMPLETE_PAGE]

    def page_view(self, request, *, participant: Participant, page: str):
        from .views import annotate_page

        return annotate_page(request, participant=participant)

    def launch_problems(self, *, study: Study) -> dict[str, list[str]]:
        return services.annotation_launch_problems(study=study)

    def analyse(self, *, study: Study, include_simulated: bool = False) -> dict[str, Any] | None:
        from .analysis import annotation_analyse

        return annotation_analyse(study=study, include_simulated=include_simulated)

    def dashboard_context(self, *, study: Study) -> dict[str, Any]:
        from .selectors import annotation_progress

        return {"design_template": "annotation/dashboard_panel.html",
                "annotation_populations": [
                    ("Participants", annotation_progress(study=study, is_simulated=False)),
                    ("Simulated participants", annotation_progress(study=study, is_simulated=True)),
                ]}

    def report_context(self, *, results: dict[str, Any]) -> dict[str, Any]:
        from .analysis import table5_rows

        return {"design_template": "annotation/analysis_section.html", "annotation_rows": table5_rows(results)}

    def simulation_bot(self, *, study: Study) -> tuple[type, Any]:
        from .simulation import AnnotationBot, AnnotationPolicy

        return AnnotationBot, AnnotationPolicy()

    def simulation_policy(self, *, study: Study, raw: Any, source: str) -> Any:
        from .simulation import AnnotationPolicy

        return AnnotationPolicy.from_json(raw, source=source)

    def analysis_csv_rows(self, *, results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        from .analysis import TABLE5_COLUMNS, table5_rows

        return list(TABLE5_COLUMNS), [{column: row[column] for column in TABLE5_COLUMNS}
                                      for row in table5_rows(results)]
