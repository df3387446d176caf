"""Researcher API of annotation studies: settings, tasks, items, and the progress towards k votes per item.

Querysets are limited to the requesting researcher's studies and every object is checked again
(studies/designs/common/api.py), so another researcher gets 404.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from studies.api import STUDY_FILTER
from studies.designs.common.api import OwnStudyObjectsMixin

from .models import AnnotationItem, AnnotationSettings, AnnotationTask
from .selectors import annotation_progress
from .serializers import AnnotationItemSerializer, AnnotationSettingsSerializer, AnnotationTaskSerializer


class _AnnotationViewSet(OwnStudyObjectsMixin, viewsets.ModelViewSet):
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class AnnotationSettingsViewSet(_AnnotationViewSet):
    serializer_class = AnnotationSettingsSerializer
    model = AnnotationSettings

    @extend_schema(responses={200: OpenApiTypes.OBJECT},
                   description="Votes per item, items with all k votes and the completion forecast.")
    @action(detail=True, methods=["get"])
    def progress(self, request: Request, pk: str | None = None) -> ApiResponse:
        study = self.get_object().study
        return ApiResponse({"real": annotation_progress(study=study, is_simulated=False),
                            "simulated": annotation_progress(study=study, is_simulated=True)})


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class AnnotationTaskViewSet(_AnnotationViewSet):
    serializer_class = AnnotationTaskSerializer
    model = AnnotationTask


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class AnnotationItemViewSet(_AnnotationViewSet):
    serializer_class = AnnotationItemSerializer
    model = AnnotationItem
    study_path = "task__study"

    def get_queryset(self):
        return super().get_queryset().select_related("task__study").prefetch_related("images__grid_cell")
