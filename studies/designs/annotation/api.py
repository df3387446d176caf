"""Researcher API of annotation studies: settings, tasks, items, and the progress towards k votes per item.

Querysets are limited to the requesting researcher's studies and every object is checked again by the
studies API's IsStudyOwner, so another researcher gets 404.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from studies import selectors as study_selectors
from studies.api import IsResearcher

from .models import AnnotationItem, AnnotationSettings, AnnotationTask
from .selectors import annotation_progress
from .serializers import AnnotationItemSerializer, AnnotationSettingsSerializer, AnnotationTaskSerializer

STUDY_FILTER = OpenApiParameter("study", OpenApiTypes.STR, description="Only objects of the study with this slug.")


class IsOwnStudyObject(permissions.BasePermission):
    def has_object_permission(self, request, view, obj) -> bool:
        study = obj.task.study if isinstance(obj, AnnotationItem) else obj.study
        return request.user.is_superuser or study.owner_id == request.user.pk


class _AnnotationViewSet(viewsets.ModelViewSet):
    permission_classes = [IsResearcher & IsOwnStudyObject]
    study_path = "study"
    model: type

    def get_queryset(self):
        own = study_selectors.study_list_for_user(user=self.request.user)
        objects = self.model.objects.filter(**{f"{self.study_path}__in": own})
        slug = self.request.query_params.get("study")
        return objects.filter(**{f"{self.study_path}__slug": slug}) if slug else objects


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class AnnotationSettingsViewSet(_AnnotationViewSet):
    serializer_class = AnnotationSettingsSerializer
    model = AnnotationSettings
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

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
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class AnnotationItemViewSet(_AnnotationViewSet):
    serializer_class = AnnotationItemSerializer
    model = AnnotationItem
    study_path = "task__study"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        return super().get_queryset().select_related("task__study").prefetch_related("images__grid_cell")
