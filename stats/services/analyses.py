"""Running an analysis of a study: export its data, compare with its plan, test, hash and store.

The analysis follows the seed study (seeds/invertibility-ideal-counterfactuals-user-study.txt, section
3.3 and appendix E): Kruskal-Wallis per statement across conditions, Bonferroni over each family of
statements, effect sizes, agree/neutral/disagree shares and the preregistered hypotheses with verdicts.
The data are read from the study's long CSV export (every participant, flagged), exactly as
``manage.py analyze --from-csv`` reads a downloaded file, so both give the same hash and numbers; the
plan (stats.services.plans) decides the procedure, and an analysis run with other options is exploratory
and lists each departure. While a study is live, storing an analysis of real participants is an interim
look that the researcher must confirm; it is recorded in the plan's log.
"""
from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

from django.db import transaction

from studies.designs.registry import design_for
from studies.models import Study

from .. import selectors
from ..analysis import AnalysisInputError
from ..analysis.long_table import LongData, parse_long_csv
from ..analysis.plan import apply_overrides
from ..analysis.study_analysis import EXCLUSION_REASONS, analyze_long
from ..models import Analysis, AnalysisPlan
from .exports import responses_export
from .plans import interim_look_record, plan_spec

FORMAT_VERSION = 2
COLLECTING = (Study.Status.LIVE, Study.Status.PAUSED)
SOFTWARE = ("scipy", "statsmodels", "numpy", "scikit-posthocs", "pandas")

__all__ = ["EXCLUSION_REASONS", "AnalysisError", "AnalysisParameters", "InterimLookRequired", "analysis_compute",
           "analysis_from_long", "analysis_run", "software_versions"]


class AnalysisError(ValueError):
    """The study cannot be analysed as asked; the message says why and what to do."""


class InterimLookRequired(AnalysisError):
    """The study is still collecting data: storing an analysis of real participants needs a confirmed look."""


@dataclass(frozen=True)
class AnalysisParameters:
    """Options of one analysis; None means "as the plan says". Stored with every Analysis."""

    correction: str | None = None
    alpha: float | None = None
    include_simulated: bool = False
    families: dict[str, list[str]] | None = None
    min_stimulus_seconds: float | None = None
    exclude_failed_attention: bool | None = None
    exclude_incomplete: bool | None = None
    posthoc: bool = True
    exact: str | None = None  # "always": exact / permutation p for every test, not only small groups
    test: str = field(default="kruskal_wallis", init=False)

    def overrides(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if name not in ("posthoc", "test")}

    def checked(self) -> None:
        if self.alpha is not None and (isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float))
                                       or not 0 < self.alpha < 1):
            raise AnalysisError(f"alpha must be a number between 0 and 1, not {self.alpha!r}.")
        seconds = self.min_stimulus_seconds
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0):
            raise AnalysisError(f"min_stimulus_seconds must be a non-negative number, not {seconds!r}.")


def software_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in SOFTWARE:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def _design_results(*, study: Study, params: dict[str, Any]) -> dict[str, Any] | None:
    """The results of a design that analyses itself (annotation, trials); None for the between-group design."""
    design = design_for(study)
    options = {name: params[name] for name in design.analysis_options}
    try:
        section = design.analyse(study=study, include_simulated=params["include_simulated"], **options)
    except AnalysisInputError as error:
        raise AnalysisError(str(error)) from None
    if section is None:
        return None
    return {"format_version": FORMAT_VERSION, "study": {"slug": study.slug, "title": study.title},
            "parameters": params, "design": study.design, **section}


def analysis_from_long(
    data: LongData, *, plan: dict[str, Any], parameters: AnalysisParameters | None = None,
    plan_version: AnalysisPlan | None = None, frozen: bool = False, study: dict[str, Any] | None = None,
) -> tuple[dict, str, dict]:
    """(stored parameters, data hash, results) of long data under a plan: the one analysis behind the stored
    analyses of a study and ``manage.py analyze --from-csv``."""
    parameters = parameters or AnalysisParameters()
    parameters.checked()
    try:
        effective, departures = apply_overrides(plan, parameters.overrides())
        results = analyze_long(data, effective)
    except AnalysisInputError as error:
        raise AnalysisError(f"{study['slug']!r}: {error}" if study else str(error)) from None
    exclusions = effective["exclusions"]
    params = {
        "correction": effective["correction"], "alpha": effective["alpha"],
        "include_simulated": not exclusions["simulated"], "families": parameters.families,
        "min_stimulus_seconds": exclusions["min_stimulus_seconds"],
        "exclude_failed_attention": exclusions["failed_attention"], "exclude_incomplete": exclusions["incomplete"],
        "posthoc": parameters.posthoc, "exact": effective["exact"]["policy"], "test": parameters.test,
        "requested": {name: value for name, value in parameters.overrides().items() if value not in (None, False)},
    }
    unplanned = results.pop("unplanned_items")
    if not frozen:
        departures.insert(0, "no plan was frozen at launch: the study is a draft (or was stored as live without "
                             "a launch), so nothing here is preregistered")
    departures += unplanned
    results = {
        "format_version": FORMAT_VERSION,
        "study": study or {"slug": None, "title": None},
        **{"data_hash": results.pop("data_hash")},
        "data_file": {"format": "long", "include_simulated": True, "include_unfinished": True, "pseudonymised": True,
                      "sha256": results.pop("input_file_sha256"), "rows_analysed": results.pop("rows_analysed")},
        "parameters": params,
        **results,
        "plan": {
            "status": "confirmatory" if frozen and not departures else "exploratory",
            "departures": departures,
            "version": plan_version.version if plan_version else None,
            "frozen_at": plan_version.frozen_at.isoformat() if plan_version and plan_version.frozen_at else None,
            "spec": plan,
        },
        "software": software_versions(),
        "interim": False,
    }
    return params, results["data_hash"], results


def analysis_compute(*, study: Study, parameters: AnalysisParameters | None = None) -> tuple[dict, str, dict]:
    """(stored parameters, sha256 of the data used, results) without writing anything.

    Raises AnalysisError with a plain message for studies that cannot be analysed: no conditions or
    only one, no Likert items, nobody left after exclusions, non-numeric or out-of-range answers.
    """
    parameters = parameters or AnalysisParameters()
    parameters.checked()
    design_params = {"correction": parameters.correction or "bonferroni", "alpha": parameters.alpha or 0.05,
                     "include_simulated": parameters.include_simulated}
    designed = _design_results(study=study, params=design_params)
    if designed is not None:
        return design_params, designed["data_hash"], designed
    spec, version = plan_spec(study=study)
    export = responses_export(study=study, fmt="long", include_simulated=True, include_unfinished=True)
    return analysis_from_long(
        parse_long_csv(export.content), plan=spec, parameters=parameters, plan_version=version,
        frozen=bool(version and version.frozen_at), study={"slug": study.slug, "title": study.title},
    )


def collecting_real_data(study: Study, results: dict[str, Any]) -> bool:
    """Whether an analysis of this live (or paused) study looks at real participants' answers."""
    if study.status not in COLLECTING:
        return False
    included = results.get("exclusions", {}).get("included_real")
    return bool(included) if included is not None else False


@transaction.atomic
def analysis_run(
    *,
    study: Study,
    parameters: AnalysisParameters | None = None,
    created_by=None,
    reuse: bool = False,
    interim: bool = False,
    interim_reason: str = "",
) -> Analysis:
    """Analyse the study and store the result; with ``reuse`` an identical stored analysis is returned.

    While the study is live, real participants' data are analysed and stored only as a confirmed interim
    look (``interim``), which the plan's log records; otherwise InterimLookRequired and nothing is stored.
    """
    params, data_hash, results = analysis_compute(study=study, parameters=parameters)
    looking = collecting_real_data(study, results)
    if looking and not interim:
        raise InterimLookRequired(
            f"Study {study.slug!r} is {study.status} and still collecting data: looking at the results now is an "
            "interim look, which inflates false positives unless planned. Confirm it as an interim look (it is "
            "recorded in the plan's log) or wait until the study is closed."
        )
    if reuse and not looking:
        existing = selectors.analysis_latest(study=study, parameters=params, data_hash=data_hash)
        if existing is not None:
            return existing
    plan = None
    if "plan" in results and results["plan"].get("version"):
        plan = AnalysisPlan.objects.filter(study=study, version=results["plan"]["version"]).first()
    if looking:
        results["interim"] = True
        interim_look_record(study=study, user=created_by, reason=interim_reason,
                            details={"data_hash": data_hash, "included": results["exclusions"]["included"]})
    analysis = Analysis(study=study, parameters=params, data_hash=data_hash, results=results, created_by=created_by,
                        plan=plan, confirmatory=results.get("plan", {}).get("status") == "confirmatory",
                        interim=looking)
    analysis.full_clean()
    analysis.save()
    return analysis
