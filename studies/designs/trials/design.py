"""The within-subject trials design as a StudyDesign: consent, instructions, the trials, completion."""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from studies.designs.registry import COMPLETE_PAGE, CONSENT_PAGE, StudyDesign
from studies.models import Participant, Study

from . import selectors
from .models import TrialSession
from .services import INSTRUCTIONS_PAGE, TRIALS_PAGE, setup_problems, trials_allocate

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest, HttpResponse


class TrialsDesign(StudyDesign):
    key = Study.Design.WITHIN_SUBJECT
    label = Study.Design.WITHIN_SUBJECT.label
    own_pages = (INSTRUCTIONS_PAGE, TRIALS_PAGE)
    analysis_options = ("correction", "alpha")

    def allocate(self, *, participant: Participant, rng: random.Random | None = None) -> Participant:
        return trials_allocate(participant=participant, rng=rng)

    def pages(self, *, participant: Participant) -> list[str]:
        return [CONSENT_PAGE, INSTRUCTIONS_PAGE, TRIALS_PAGE, COMPLETE_PAGE]

    def has_allocation(self, *, participant: Participant) -> bool:
        return TrialSession.objects.filter(participant=participant).exists()

    def page_view(self, request: "HttpRequest", *, participant: Participant, page: str) -> "HttpResponse":
        from .views import instructions_page, trials_page

        view = instructions_page if page == INSTRUCTIONS_PAGE else trials_page
        return view(request, participant=participant)

    def launch_problems(self, *, study: Study) -> dict[str, list[str]]:
        return setup_problems(study=study)

    def analyse(self, *, study: Study, include_simulated: bool = False, correction: str = "bonferroni",
                alpha: float = 0.05) -> dict[str, Any] | None:
        from .analysis import trials_analyse

        return trials_analyse(study=study, include_simulated=include_simulated, correction=correction, alpha=alpha)

    def dashboard_context(self, *, study: Study) -> dict[str, Any]:
        return {"design_template": "trials/dashboard_panel.html",
                "trials_progress": selectors.progress_counts(study=study),
                "trials_balance": selectors.permutation_balance(study=study)}

    def report_context(self, *, results: dict[str, Any]) -> dict[str, Any]:
        from .analysis import trials_report_context

        return trials_report_context(results)

    def simulation_bot(self, *, study: Study) -> tuple[type, Any]:
        from .simulation import TrialsBot, policy_for

        return TrialsBot, policy_for(study)

    def simulation_policy(self, *, study: Study, raw: Any, source: str) -> Any:
        from .simulation import policy_from_json

        return policy_from_json(study, raw, source=source)

    def analysis_csv_rows(self, *, results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        from .analysis import trials_csv_rows

        return trials_csv_rows(results)
