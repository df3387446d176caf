"""Researcher API: studies, conditions, items, lifecycle actions and participants (response exports are
served by the stats app at /api/studies/<slug>/export/, responses/ and responses/csv/).

Every queryset is limited to the requesting researcher's studies and every object is checked again by
IsStudyOwner, so another researcher gets 404 for lists and objects alike.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from . import selectors, services
from .models import Condition, Item, Study
from .serializers import (
    AuditEntrySerializer,
    ConditionSerializer,
    ConsentSupersedeSerializer,
    ConsentVersionSerializer,
    ItemSerializer,
    ParticipantSerializer,
    PlatformIdSerializer,
    StudySerializer,
    as_drf_error,
)


class IsResearcher(permissions.BasePermission):
    """Staff accounts (researchers) only; participants never have accounts."""

    message = "Only researcher (staff) accounts can use this API."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsStudyOwner(permissions.BasePermission):
    """The object's study belongs to the user (superusers may see every study)."""

    def has_object_permission(self, request, view, obj) -> bool:
        study = obj if isinstance(obj, Study) else obj.study
        return request.user.is_superuser or study.owner_id == request.user.pk


RESEARCHER = [IsResearcher & IsStudyOwner]

STUDY_FILTER = OpenApiParameter("study", OpenApiTypes.STR, description="Only objects of the study with this slug.")


@extend_schema_view(
    destroy=extend_schema(responses={204: None, 400: OpenApiResponse(description="The study has participants.")}),
)
class StudyViewSet(viewsets.ModelViewSet):
    serializer_class = StudySerializer
    permission_classes = RESEARCHER
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.study_list_for_user(user=self.request.user)

    def perform_destroy(self, instance: Study) -> None:
        try:
            services.study_delete(study=instance)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error

    def _lifecycle(self, service) -> ApiResponse:
        study = self.get_object()
        try:
            study = service(study=study)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        return ApiResponse(StudySerializer(study, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: StudySerializer},
                   description="Go live. Refused (400) while a condition has no ready stimulus.")
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._lifecycle(services.study_launch)

    @extend_schema(request=None, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._lifecycle(services.study_pause)

    @extend_schema(request=None, responses={200: StudySerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._lifecycle(services.study_close)

    @extend_schema(request=PlatformIdSerializer, responses={200: AuditEntrySerializer},
                   description="Delete everything of one participant, found by platform id (a data-protection "
                               "request). The audit entry records what was deleted and when, never the data.")
    @action(detail=True, methods=["post"], url_path="participants/erase")
    def erase_participant(self, request: Request, slug: str | None = None) -> ApiResponse:
        study = self.get_object()
        payload = PlatformIdSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            entry = services.participant_delete_by_platform_id(
                study=study, platform_id=payload.validated_data["platform_id"], actor=request.user)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        return ApiResponse(AuditEntrySerializer(entry).data)

    @extend_schema(request=ConsentSupersedeSerializer, responses={201: ConsentVersionSerializer},
                   description="Supersede the consent text by a new version (a launched study's consent is never "
                               "edited in place; participants keep the version they agreed to).")
    @action(detail=True, methods=["post"], url_path="consent")
    def supersede_consent(self, request: Request, slug: str | None = None) -> ApiResponse:
        study = self.get_object()
        payload = ConsentSupersedeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            version = services.consent_supersede(study=study, text=payload.validated_data["text"],
                                                 actor=request.user)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        return ApiResponse(ConsentVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ParticipantSerializer(many=True)},
                   description="Participants and their status. Platform ids only for the study's owner.")
    @action(detail=True, methods=["get"])
    def participants(self, request: Request, slug: str | None = None) -> ApiResponse:
        study = self.get_object()
        page = self.paginate_queryset(selectors.participant_list(study=study))
        serializer = ParticipantSerializer(page, many=True, context=self.get_serializer_context())
        return self.get_paginated_response(serializer.data)


class _StudyChildViewSet(viewsets.ModelViewSet):
    permission_classes = RESEARCHER
    model: type

    def get_queryset(self):
        objects = self.model.objects.filter(
            study__in=selectors.study_list_for_user(user=self.request.user)
        ).select_related("study")
        slug = self.request.query_params.get("study")
        return objects.filter(study__slug=slug) if slug else objects


@extend_schema_view(
    list=extend_schema(parameters=[STUDY_FILTER]),
    destroy=extend_schema(responses={204: None, 400: OpenApiResponse(description="Participants were assigned.")}),
)
class ConditionViewSet(_StudyChildViewSet):
    serializer_class = ConditionSerializer
    model = Condition

    def perform_destroy(self, instance: Condition) -> None:
        try:
            services.condition_delete(condition=instance)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


@extend_schema_view(
    list=extend_schema(parameters=[STUDY_FILTER]),
    destroy=extend_schema(responses={204: None, 400: OpenApiResponse(description="The study has responses.")}),
)
class ItemViewSet(_StudyChildViewSet):
    serializer_class = ItemSerializer
    model = Item

    def get_queryset(self):
        return super().get_queryset().order_by("study", "page", "order", "pk")

    def perform_destroy(self, instance: Item) -> None:
        try:
            services.item_delete(item=instance)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
