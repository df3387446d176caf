"""Researcher pages: the analysis of a study (owner only), its plan, and sample-size planning before launch.

While a study is live (or paused) the analysis page computes and stores nothing: it warns, shows the last
stored analysis if there is one, and offers a confirmed interim look (a POST, recorded in the plan's log).
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from studies.models import Study

from .analysis import CORRECTION_METHODS, AnalysisInputError
from .models import Analysis
from .analysis.power import plan_from_cohens_d, plan_from_distributions
from .reports import ANALYSIS_FORMATS, analysis_render, report_context
from .services import PLAN_EXPORT_FORMATS, AnalysisError, AnalysisParameters, analysis_run, plan_export, plan_spec
from .services.analyses import COLLECTING
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
    correction = request.GET.get("correction") or None
    include_simulated = is_true(request.GET.get("include_simulated"))
    context = {"study": study, "corrections": CORRECTION_METHODS, "correction": correction,
               "include_simulated": include_simulated}
    if study.status in COLLECTING:
        latest = Analysis.objects.filter(study=study).first()
        context.update(interim_warning=True, stored=latest is not None)
        if latest is not None:
            context.update(report_context(latest.results), analysis=latest)
        return render(request, "stats/analysis_page.html", context)
    try:
        analysis = analysis_run(
            study=study, created_by=request.user, reuse=True,
            parameters=AnalysisParameters(correction=correction, include_simulated=include_simulated),
        )
    except AnalysisError as error:
        context["error"] = str(error)
        bad_option = correction is not None and correction not in CORRECTION_METHODS
        return render(request, "stats/analysis_page.html", context, status=400 if bad_option else 200)
    context.update(report_context(analysis.results), analysis=analysis,
                   history=Analysis.objects.filter(study=study).only("pk", "created_at", "data_hash")[:10])
    return render(request, "stats/analysis_page.html", context)


@login_required
@require_POST
def analysis_interim_look(request: HttpRequest, slug: str) -> HttpResponse:
    """A confirmed interim look at a live study: logged in the plan's log, then analysed and stored."""
    study = owned_study(request, slug)
    if not is_true(request.POST.get("confirm")):
        context = {"study": study, "corrections": CORRECTION_METHODS, "interim_warning": True,
                   "error": "Tick the confirmation to record an interim look."}
        return render(request, "stats/analysis_page.html", context, status=400)
    try:
        analysis = analysis_run(
            study=study, created_by=request.user, interim=True, interim_reason=request.POST.get("reason", "")[:500],
            parameters=AnalysisParameters(include_simulated=is_true(request.POST.get("include_simulated"))),
        )
    except AnalysisError as error:
        return render(request, "stats/analysis_page.html", {"study": study, "error": str(error),
                                                            "corrections": CORRECTION_METHODS}, status=400)
    return redirect("stats:analysis_detail", slug=study.slug, pk=analysis.pk)


@login_required
def plan_download(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    """The study's analysis plan as AsPredicted-style text or JSON (with its versions and log)."""
    study = owned_study(request, slug)
    if fmt not in PLAN_EXPORT_FORMATS:
        raise Http404("Unknown format.")
    file = plan_export(study=study, fmt=fmt)
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


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
    """How many participants to recruit per condition; the family size defaults to the size of one of the
    study's own families of statements (as its analysis plan groups them), the largest unless one is chosen."""
    study = owned_study(request, slug)
    families = [{"name": name, "size": len(family["items"])}
                for name, family in plan_spec(study=study)[0].get("families", {}).items()]
    family = next((f for f in families if f["name"] == request.GET.get("family")), None) or max(
        families, key=lambda f: f["size"], default={"name": "", "size": 1})
    pattern_items = family["size"]
    conditions = max(2, study.conditions.count())
    context = {"study": study, "pattern_items": pattern_items, "conditions": conditions, "families": families,
               "family": family}
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
