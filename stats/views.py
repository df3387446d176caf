"""Researcher pages: the analysis of a study (owner only) and sample-size planning before launch."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from studies.models import Item, Study

from .analysis import CORRECTION_METHODS, AnalysisInputError
from .models import Analysis
from .analysis.power import plan_from_cohens_d, plan_from_distributions
from .reports import ANALYSIS_FORMATS, analysis_render, report_context
from .services import AnalysisError, AnalysisParameters, analysis_run
from .services.exports import is_true


def owned_study(request: HttpRequest, slug: str) -> Study:
    """The study if the user owns it (or is a superuser): 404 when it does not exist, 403 otherwise."""
    study = get_object_or_404(Study, slug=slug)
    if study.owner_id != request.user.pk and not request.user.is_superuser:
        raise PermissionDenied("Only the study's owner can see its analysis.")
    return study


@login_required
def analysis_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Runs the analysis with the chosen options; an unchanged data set and options reuse the stored one."""
    study = owned_study(request, slug)
    correction = request.GET.get("correction", "bonferroni")
    include_simulated = is_true(request.GET.get("include_simulated"))
    context = {"study": study, "corrections": CORRECTION_METHODS, "correction": correction,
               "include_simulated": include_simulated}
    try:
        analysis = analysis_run(
            study=study, created_by=request.user, reuse=True,
            parameters=AnalysisParameters(correction=correction, include_simulated=include_simulated),
        )
    except AnalysisError as error:
        context["error"] = str(error)
        bad_option = correction not in CORRECTION_METHODS
        return render(request, "stats/analysis_page.html", context, status=400 if bad_option else 200)
    context.update(report_context(analysis.results), analysis=analysis,
                   history=Analysis.objects.filter(study=study).only("pk", "created_at", "data_hash")[:10])
    return render(request, "stats/analysis_page.html", context)


@login_required
def analysis_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    study = owned_study(request, slug)
    analysis = get_object_or_404(Analysis, pk=pk, study=study)
    context = {"study": study, "analysis": analysis, "stored": True, "corrections": CORRECTION_METHODS,
               "correction": analysis.parameters.get("correction"),
               "include_simulated": analysis.parameters.get("include_simulated")}
    context.update(report_context(analysis.results))
    return render(request, "stats/analysis_page.html", context)


@login_required
def analysis_download(request: HttpRequest, slug: str, pk: int, fmt: str) -> HttpResponse:
    study = owned_study(request, slug)
    analysis = get_object_or_404(Analysis, pk=pk, study=study)
    if fmt not in ANALYSIS_FORMATS:
        raise Http404("Unknown format.")
    content, content_type, extension = analysis_render(analysis.results, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{study.slug}-analysis-{analysis.pk}.{extension}"'
    return response


def _float(request: HttpRequest, name: str, default: float) -> float:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise AnalysisInputError(f"{name} must be a number, not {raw!r}.") from None


@login_required
def sample_size_page(request: HttpRequest, slug: str) -> HttpResponse:
    """How many participants to recruit per condition; the family size defaults to the pattern statements."""
    study = owned_study(request, slug)
    pattern_items = study.items.filter(kind=Item.Kind.LIKERT, group="pattern").count()
    conditions = max(2, study.conditions.count())
    context = {"study": study, "pattern_items": pattern_items, "conditions": conditions}
    if "d" in request.GET or "distribution_a" in request.GET:
        try:
            family_size = int(_float(request, "family_size", max(1, pattern_items)))
            alpha, power = _float(request, "alpha", 0.05), _float(request, "power", 0.8)
            if request.GET.get("distribution_a"):
                distributions = [
                    [float(x) for x in request.GET.get(name, "").replace(";", ",").split(",") if x.strip()]
                    for name in ("distribution_a", "distribution_b")
                ]
                plan = plan_from_distributions(
                    distributions=distributions, alpha=alpha, power=power, family_size=family_size,
                    simulations=400,
                )
            else:
                plan = plan_from_cohens_d(
                    d=_float(request, "d", 0.5), alpha=alpha, power=power, family_size=family_size,
                    efficiency=request.GET.get("efficiency", "normal"), conditions=conditions,
                )
            context["plan"] = plan
        except (AnalysisInputError, ValueError) as error:
            context["error"] = str(error)
    context.setdefault("defaults", {"d": request.GET.get("d", "0.5"), "alpha": request.GET.get("alpha", "0.05"),
                                    "power": request.GET.get("power", "0.8"),
                                    "family_size": request.GET.get("family_size", max(1, pattern_items))})
    return render(request, "stats/sample_size.html", context, status=400 if "error" in context else 200)
