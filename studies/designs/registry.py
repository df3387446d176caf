"""The registry of study designs and the contract every design implements.

Layering (checked by tests/test_architecture.py): studies.services and stats import this module only;
a design's own modules import studies.services, studies.selectors and stats.analysis, never the reverse.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:  # pragma: no cover
    from django.http import HttpRequest, HttpResponse

    from studies.models import Participant, Study

#: Pages every design shares: the entry/consent handshake and the end.
CONSENT_PAGE = "consent"
COMPLETE_PAGE = "complete"


class StudyDesign:
    """What a study design must provide. One instance per design, registered with ``register_design``.

    ``key`` is the value stored in ``Study.design``. The hooks are called by the shared participant flow:

    - ``allocate`` once, inside the consent transaction, to give the participant their share of the study
      (a condition, a trial list, a set of annotation items). It must be idempotent and lock what it counts;
      ``has_allocation`` says whether it has run (the shared pages refuse answers before).
    - ``pages`` for the ordered page names of one participant, always starting with ``consent`` and ending
      with ``complete``; ``page_view`` renders/handles the pages that are the design's own (``own_pages``).
    - ``launch_problems`` lists what keeps a study of this design from going live, keyed by field.
    - ``analyse`` returns the design's section of the analysis JSON (or None where stats handles it).
    - ``dashboard_context`` adds the design's panel to the researcher's dashboard (``design_template``).
    - ``report_context`` and ``analysis_csv_rows`` render the results of ``analyse`` (page, HTML, CSV).
    """

    key: ClassVar[str]
    label: ClassVar[str]
    #: Page names this design renders itself through ``page_view`` (the others are the shared pages).
    own_pages: ClassVar[tuple[str, ...]] = ()
    #: Analysis parameters (fields of stats' AnalysisParameters, e.g. "correction", "alpha") that ``analyse``
    #: takes as keyword arguments besides ``include_simulated``.
    analysis_options: ClassVar[tuple[str, ...]] = ()

    def allocate(self, *, participant: "Participant", rng: random.Random | None = None) -> "Participant":
        raise NotImplementedError

    def pages(self, *, participant: "Participant") -> list[str]:
        raise NotImplementedError

    def has_allocation(self, *, participant: "Participant") -> bool:
        """Whether ``allocate`` has given the participant their share; the shared pages accept answers only then."""
        return participant.condition_id is not None

    def page_view(self, request: "HttpRequest", *, participant: "Participant", page: str) -> "HttpResponse":
        raise NotImplementedError(f"design {self.key!r} has no page {page!r}")

    def launch_problems(self, *, study: "Study") -> dict[str, list[str]]:
        return {}

    def analyse(self, *, study: "Study", include_simulated: bool = False) -> dict[str, Any] | None:
        return None

    def dashboard_context(self, *, study: "Study") -> dict[str, Any]:
        return {}

    def report_context(self, *, results: dict[str, Any]) -> dict[str, Any]:
        """Template context for the results ``analyse`` returned; ``design_template`` names the section template."""
        return {}

    def simulation_bot(self, *, study: "Study") -> tuple[type, Any] | None:
        """(bot class, default response policy) of this design's simulated participants; None: the generic bot
        of studies.simulation, which walks the shared question pages."""
        return None

    def simulation_policy(self, *, study: "Study", raw: Any, source: str) -> Any | None:
        """The response policy of the JSON ``raw`` read from ``source`` (``simulate_participants --policy``);
        raises studies.simulation.PolicyError naming ``source``. None: the shared question pages' policy format."""
        return None

    def copy_configuration(self, *, source: "Study", copy: "Study") -> None:
        """Copy the design's own configuration of ``source`` to its new draft duplicate ``copy`` (conditions and
        items are already copied); the shared question pages need nothing more."""

    def analysis_csv_rows(self, *, results: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        """(columns, rows) of the CSV download of the results ``analyse`` returned."""
        raise NotImplementedError(f"design {self.key!r} has no CSV layout of its analysis")


_DESIGNS: dict[str, StudyDesign] = {}


def register_design(design: StudyDesign) -> StudyDesign:
    """Register a design instance under its key; registering a different object twice is an error."""
    existing = _DESIGNS.get(design.key)
    if existing is not None and type(existing) is not type(design):
        raise ImproperlyConfigured(f"Two study designs claim the key {design.key!r}.")
    _DESIGNS[design.key] = design
    return design


def design_get(key: str) -> StudyDesign:
    try:
        return _DESIGNS[key]
    except KeyError:
        raise ImproperlyConfigured(
            f"Study design {key!r} is not available: its app is not installed (known: {sorted(_DESIGNS)})."
        ) from None


def design_for(study: "Study") -> StudyDesign:
    return design_get(study.design)


def design_list() -> list[StudyDesign]:
    return [_DESIGNS[key] for key in sorted(_DESIGNS)]
