"""Researcher API of the stats app: analyses, hypotheses, response exports and sample-size plans.

Every endpoint is limited to the study's owner (exports also to staff); others get 404 for studies they
cannot see, so slugs of other researchers' studies do not leak.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from studies.models import Study

from . import selectors
from .analysis import AnalysisInputError
from .power import plan_from_cohens_d, plan_from_distributions
from .reports import EXPORT_FORMATS, responses_export
from .serializers import (
    AnalysisRunSerializer,
    AnalysisSerializer,
    AnalysisSummarySerializer,
    HypothesisSerializer,
    SampleSizeSerializer,
)
from .services import (
    AnalysisError,
    AnalysisParameters,
    analysis_run,
    hypothesis_create,
    hypothesis_delete,
    hypothesis_update,
)


def _study(request, slug: str, *, staff_ok: bool = False) -> Study:
    study = Study.objects.filter(slug=slug).first()
    user = request.user
    allowed = study is not None and (
        study.owner_id == user.pk or user.is_superuser or (staff_ok and user.is_staff)
    )
    if not allowed:
        raise NotFound("No such study.")
    return study


def _validation_response(error: ValidationError) -> Response:
    detail = error.message_dict if hasattr(error, "error_dict") else {"detail": error.messages}
    return Response(detail, status=status.HTTP_400_BAD_REQUEST)


class ResponsesExportView(APIView):
    """GET ?format=long|wide|json|codebook[&include_simulated=1]: the study's responses as a file."""

    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(self, request, force=False):
        # ?format= names the export, not a DRF renderer; negotiate JSON for error bodies only.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, enum=list(EXPORT_FORMATS)),
            OpenApiParameter("include_simulated", bool),
        ],
        responses={(200, "text/csv"): bytes, (200, "application/json"): dict},
    )
    def get(self, request, slug: str):
        study = _study(request, slug)
        fmt = request.query_params.get("format", "long")
        if fmt not in EXPORT_FORMATS:
            return Response(
                {"detail": f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        include_simulated = request.query_params.get("include_simulated", "").lower() in ("1", "true", "yes")
        content, content_type, filename = responses_export(study=study, fmt=fmt, include_simulated=include_simulated)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


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
        try:
            analysis = analysis_run(
                study=study, parameters=AnalysisParameters(**serializer.validated_data), created_by=request.user
            )
        except AnalysisError as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(AnalysisSerializer(analysis).data, status=status.HTTP_201_CREATED)


class AnalysisDetailView(APIView):
    @extend_schema(responses=AnalysisSerializer)
    def get(self, request, slug: str, pk: int):
        study = _study(request, slug)
        analysis = get_object_or_404(selectors.analysis_list(study=study), pk=pk)
        return Response(AnalysisSerializer(analysis).data)


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
