"""Researcher API of trials studies: setup, methods, pool images, explanation images, and the stored trial lists.

Querysets are limited to the requesting researcher's studies and every object is checked again, so another
researcher gets 404. Configuration changes are refused (400) once participants have trial lists.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from studies.api import STUDY_FILTER
from studies.designs.common.api import OwnStudyObjectsMixin

from .models import ExplanationImage, PoolImage, Trial, TrialMethod, TrialSetup
from .serializers import (
    ExplanationImageSerializer,
    PoolImageSerializer,
    TrialMethodSerializer,
    TrialSerializer,
    TrialSetupSerializer,
)


class _TrialsViewSet(OwnStudyObjectsMixin, viewsets.GenericViewSet, mixins.ListModelMixin,
                     mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Configuration is added and read here; nothing is deleted through the API."""


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
class TrialViewSet(OwnStudyObjectsMixin, viewsets.GenericViewSet, mixins.ListModelMixin,
                   mixins.RetrieveModelMixin):
    """The trial list each participant saw, in order, with their ratings (read only)."""

    serializer_class = TrialSerializer
    model = Trial
    study_path = "participant__study"

    def get_queryset(self):
        return (super().get_queryset()
                .select_related("participant__study", "pool_image", "first_method", "second_method")
                .order_by("participant_id", "position"))
