"""Researcher API of trials studies: setup, methods, pool images, explanation images, and the stored trial lists.

Querysets are limited to the requesting researcher's studies and every object is checked again, so another
researcher gets 404. Configuration changes are refused (400) once participants have trial lists.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, viewsets

from studies import selectors as study_selectors
from studies.api import IsResearcher

from .models import ExplanationImage, PoolImage, Trial, TrialMethod, TrialSetup
from .serializers import (
    ExplanationImageSerializer,
    PoolImageSerializer,
    TrialMethodSerializer,
    TrialSerializer,
    TrialSetupSerializer,
)

STUDY_FILTER = OpenApiParameter("study", OpenApiTypes.STR, description="Only objects of the study with this slug.")


class IsOwnStudyObject(permissions.BasePermission):
    def has_object_permission(self, request, view, obj) -> bool:
        study = obj.method.study if isinstance(obj, ExplanationImage) else \
            obj.participant.study if isinstance(obj, Trial) else obj.study
        return request.user.is_superuser or study.owner_id == request.user.pk


class _TrialsViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.CreateModelMixin):
    permission_classes = [IsResearcher & IsOwnStudyObject]
    study_path = "study"
    model: type

    def get_queryset(self):
        own = study_selectors.study_list_for_user(user=self.request.user)
        objects = self.model.objects.filter(**{f"{self.study_path}__in": own})
        slug = self.request.query_params.get("study")
        return objects.filter(**{f"{self.study_path}__slug": slug}) if slug else objects


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class TrialSetupViewSet(_TrialsViewSet, mixins.UpdateModelMixin):
    serializer_class = TrialSetupSerializer
    model = TrialSetup


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class TrialMethodViewSet(_TrialsViewSet):
    serializer_class = TrialMethodSerializer
    model = TrialMethod


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class PoolImageViewSet(_TrialsViewSet):
    serializer_class = PoolImageSerializer
    model = PoolImage


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class ExplanationImageViewSet(_TrialsViewSet):
    serializer_class = ExplanationImageSerializer
    model = ExplanationImage
    study_path = "method__study"


@extend_schema_view(list=extend_schema(parameters=[STUDY_FILTER]))
class TrialViewSet(viewsets.GenericViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The trial list each participant saw, in order, with their ratings (read only)."""

    serializer_class = TrialSerializer
    permission_classes = [IsResearcher & IsOwnStudyObject]

    def get_queryset(self):
        own = study_selectors.study_list_for_user(user=self.request.user)
        trials = (Trial.objects.filter(participant__study__in=own)
                  .select_related("participant__study", "pool_image", "first_method", "second_method")
                  .order_by("participant_id", "position"))
        slug = self.request.query_params.get("study")
        return trials.filter(participant__study__slug=slug) if slug else trials
