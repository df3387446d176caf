"""Researcher API of the stats app: analyses, hypotheses, response exports and sample-size plans.

Every endpoint is limited to the study's owner (or a superuser); others get 404 for studies they cannot
see, so slugs of other researchers' studies do not leak. The three response endpoints (``export/``,
``responses/`` and ``responses/csv/``) are views of the one export in stats.services.exports, with the same
columns and the same default (completed, real participants; include_unfinished / include_simulated add
the others).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from studies.models import Study

from . import selectors
from .analysis import AnalysisInputError
from .analysis.power import plan_from_cohens_d, plan_from_distributions
from .serializers import (
    AnalysisRunSerializer,
    AnalysisSerializer,
    AnalysisSummarySerializer,
    HypothesisSerializer,
    ResponseRowSerializer,
    SampleSizeSerializer,
)
from .services import (
    PLAN_EXPORT_FORMATS,
    AnalysisError,
    AnalysisParameters,
    InterimLookRequired,
    analysis_run,
    plan_document,
    plan_export,
    plan_save,
    hypothesis_create,
    hypothesis_delete,
    hypothesis_update,
)
from .services.exports import (
    EXPORT_FORMATS,
    ExportError,
    ExportFile,
    export_flags,
    is_true,
    response_rows,
    responses_export,
)


def _study(request, slug: str) -> Study:
    study = selectors.study_for_user(slug=slug, user=request.user)
    if study is None:
        raise NotFound("No such study.")
    return study


def _validation_response(error: ValidationError) -> Response:
    detail = error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    return Response(detail, status=status.HTTP_400_BAD_REQUEST)


EXPORT_FLAG_PARAMETERS = [
    OpenApiParameter("include_simulated", OpenApiTypes.BOOL, description="Include simulated participants."),
    OpenApiParameter("include_unfinished", OpenApiTypes.BOOL,
                     description="Include participants who did not reach the end of the study."),
    OpenApiParameter("identified", OpenApiTypes.BOOL,
                     description="Add the platform ids (PROLIFIC_PID / workerId and the submission id) beside the "
                                 "pseudonyms: the owner's file to approve, reject or pay; the default is to share."),
]


def _download(file: ExportFile) -> HttpResponse:
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


class _FileExportView(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # ?format= names the export, not a DRF renderer; negotiate JSON for error bodies only.
        return JSONRenderer(), JSONRenderer.media_type


class ResponsesExportView(_FileExportView):
    """GET ?format=long|wide|json|codebook[&include_simulated=1][&include_unfinished=1]: responses as a file."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=list(EXPORT_FORMATS)), *EXPORT_FLAG_PARAMETERS],
        responses={(200, "text/csv"): bytes, (200, "application/json"): dict},
    )
    def get(self, request, slug: str):
        study = _study(request, slug)
        try:
            file = responses_export(study=study, fmt=request.query_params.get("format", "long"),
                                    **export_flags(request.query_params),
                                    identified=is_true(request.query_params.get("identified")))
        except ExportError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return _download(file)


class ResponsesCsvView(_FileExportView):
    """GET: the long CSV export (one row per answer), as ``export/?format=long``."""

    @extend_schema(parameters=EXPORT_FLAG_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request, slug: str):
        study = _study(request, slug)
        return _download(responses_export(study=study, fmt="long", **export_flags(request.query_params),
                                          identified=is_true(request.query_params.get("identified"))))


class ResponseRowsView(APIView):
    """GET: every answer in long format (the columns of the long CSV), as JSON."""

    @extend_schema(parameters=EXPORT_FLAG_PARAMETERS, responses={200: ResponseRowSerializer(many=True)})
    def get(self, request, slug: str):
        study = _study(request, slug)
        rows = response_rows(study=study, **export_flags(request.query_params),
                             identified=is_true(request.query_params.get("identified")))
        return Response(ResponseRowSerializer(rows, many=True).data)


class AnalysisListView(APIView):
    @extend_schema(responses=AnalysisSummarySerializer(many=True))
    def get(self, request, slug: str):
        study = _study(request, slug)
        return Response(AnalysisSummarySerializer(selectors.analysis_list(study=study)[:100], many=True).data)

    @extend_schema(request=AnalysisRunSerializer, responses={201: AnalysisSerializer})
    def post(self, request, slug: str):
        study = _study(request, slug)
        serializer = AnalysisRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        options = dict(serializer.validated_data)
        interim, reason = options.pop("interim", False), options.pop("interim_reason", "")
        try:
            analysis = analysis_run(study=study, parameters=AnalysisParameters(**options), created_by=request.user,
                                    interim=interim, interim_reason=reason)
        except InterimLookRequired as error:
            return Response({"detail": str(error), "interim_required": True}, status=status.HTTP_409_CONFLICT)
        except AnalysisError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(AnalysisSerializer(analysis).data, status=status.HTTP_201_CREATED)


class AnalysisDetailView(APIView):
    @extend_schema(responses=AnalysisSerializer)
    def get(self, request, slug: str, pk: int):
        study = _study(request, slug)
        analysis = get_object_or_404(selectors.analysis_list(study=study), pk=pk)
        return Response(AnalysisSerializer(analysis).data)


class PlanView(APIView):
    """GET: the analysis plan (JSON with versions and log; ?format=text for AsPredicted-style text).
    PUT {families, tests, scales, correction, alpha, exact, effect_sizes, exclusions, planned_sample_size,
    note}: a new dated version, only while the study is a draft."""

    @extend_schema(parameters=[OpenApiParameter("format", str, enum=list(PLAN_EXPORT_FORMATS))], responses=dict)
    def get(self, request, slug: str):
        study = _study(request, slug)
        fmt = request.query_params.get("format", "json")
        if fmt == "text":
            return _download(plan_export(study=study, fmt="text"))
        if fmt != "json":
            return Response({"detail": f"Unknown plan format {fmt!r}; choose json or text."},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response(plan_document(study=study))

    @extend_schema(request=dict, responses={201: dict})
    def put(self, request, slug: str):
        study = _study(request, slug)
        spec = dict(request.data) if isinstance(request.data, dict) else request.data
        note = spec.pop("note", "") if isinstance(spec, dict) else ""
        try:
            plan = plan_save(study=study, spec=spec, note=str(note), created_by=request.user)
        except ValidationError as error:
            return _validation_response(error)
        return Response({"version": plan.version, "created_at": plan.created_at.isoformat(), "plan": plan.spec},
                        status=status.HTTP_201_CREATED)


class HypothesisListView(APIView):
    @extend_schema(responses=HypothesisSerializer(many=True))
    def get(self, request, slug: str):
        study = _study(request, slug)
        return Response(HypothesisSerializer(selectors.hypothesis_list(study=study), many=True).data)

    @extend_schema(request=HypothesisSerializer, responses={201: HypothesisSerializer})
    def post(self, request, slug: str):
        study = _study(request, slug)
        serializer = HypothesisSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            hypothesis = hypothesis_create(study=study, **serializer.validated_data)
        except ValidationError as error:
            return _validation_response(error)
        return Response(HypothesisSerializer(hypothesis).data, status=status.HTTP_201_CREATED)


class HypothesisDetailView(APIView):
    def _get(self, request, slug, key):
        study = _study(request, slug)
        return get_object_or_404(selectors.hypothesis_list(study=study), key=key)

    @extend_schema(responses=HypothesisSerializer)
    def get(self, request, slug: str, key: str):
        return Response(HypothesisSerializer(self._get(request, slug, key)).data)

    @extend_schema(request=HypothesisSerializer, responses=HypothesisSerializer)
    def patch(self, request, slug: str, key: str):
        hypothesis = self._get(request, slug, key)
        serializer = HypothesisSerializer(hypothesis, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            hypothesis = hypothesis_update(hypothesis=hypothesis, data=serializer.validated_data)
        except ValidationError as error:
            return _validation_response(error)
        return Response(HypothesisSerializer(hypothesis).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug: str, key: str):
        try:
            hypothesis_delete(hypothesis=self._get(request, slug, key))
        except ValidationError as error:
            return _validation_response(error)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SampleSizeView(APIView):
    """POST {d, alpha, power, family_size} or {distributions: [[...], [...]], ...}: participants per condition."""

    @extend_schema(request=SampleSizeSerializer, responses=dict)
    def post(self, request):
        serializer = SampleSizeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        common = {"alpha": data["alpha"], "power": data["power"], "family_size": data["family_size"]}
        try:
            if "d" in data:
                plan = plan_from_cohens_d(d=data["d"], efficiency=data["efficiency"], conditions=data["conditions"],
                                          **common)
            else:
                plan = plan_from_distributions(distributions=data["distributions"], simulations=data["simulations"],
                                               seed=data["seed"], **common)
        except AnalysisInputError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(plan.as_dict())
