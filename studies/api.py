"""Researcher API: studies, conditions, items, lifecycle actions and participants (response exports are
served by the stats app at /api/studies/<slug>/export/, responses/ and responses/csv/).

Every queryset is limited to the requesting researcher's studies and every object is checked again by
IsStudyOwner, so another researcher gets 404 for lists and objects alike.
"""
from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse

from . import selectors, services
from .prolific import sync as prolific_sync
from .prolific.client import ProlificError
from .models import Condition, Item, Study
from .serializers import (
    AuditEntrySerializer,
    BonusSerializer,
    ConditionSerializer,
    ConsentSupersedeSerializer,
    ConsentVersionSerializer,
    DuplicateSerializer,
    EmptySerializer,
    ExclusionSerializer,
    ItemSerializer,
    ParticipantIdsSerializer,
    ParticipantSerializer,
    PlatformIdSerializer,
    RejectSerializer,
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

    def _prolific(self, request: Request, serializer_class, call) -> ApiResponse:
        study = self.get_object()
        payload = serializer_class(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            result = call(study, payload.validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        except ProlificError as error:
            return ApiResponse({"prolific": [str(error)]}, status=status.HTTP_502_BAD_GATEWAY)
        return ApiResponse(result)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT},
                   description="Read the study's submissions from Prolific now (also done on a schedule).")
    @action(detail=True, methods=["post"], url_path="prolific/sync")
    def prolific_sync(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._prolific(request, EmptySerializer,
                              lambda study, data: asdict(prolific_sync.prolific_sync_study(study=study)))

    @extend_schema(request=ParticipantIdsSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Approve these participants' Prolific submissions (one bulk approval).")
    @action(detail=True, methods=["post"], url_path="prolific/approve")
    def prolific_approve(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._prolific(request, ParticipantIdsSerializer, lambda study, data: {
            "approved": prolific_sync.prolific_approve(study=study, participant_ids=data["participants"],
                                                       actor=request.user)})

    @extend_schema(request=RejectSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Reject these participants' Prolific submissions with a reason (at least 100 "
                               "characters, shown to them) and a Prolific rejection category.")
    @action(detail=True, methods=["post"], url_path="prolific/reject")
    def prolific_reject(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._prolific(request, RejectSerializer, lambda study, data: {
            "rejected": prolific_sync.prolific_reject(
                study=study, participant_ids=data["participants"], message=data["message"],
                rejection_category=data["rejection_category"], actor=request.user)})

    @extend_schema(request=BonusSerializer, responses={200: OpenApiTypes.OBJECT},
                   description="Pay bonuses (participant id -> amount in the study's currency) in one payment.")
    @action(detail=True, methods=["post"], url_path="prolific/bonus")
    def prolific_bonus(self, request: Request, slug: str | None = None) -> ApiResponse:
        return self._prolific(request, BonusSerializer, lambda study, data: {
            "payment": prolific_sync.prolific_pay_bonuses(
                study=study, bonuses={row["participant"]: row["amount"] for row in data["bonuses"]},
                actor=request.user)})

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

    @extend_schema(request=DuplicateSerializer, responses={201: StudySerializer},
                   description="A draft copy of the study (settings, conditions, items) under a new slug.")
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, slug: str | None = None) -> ApiResponse:
        study = self.get_object()
        payload = DuplicateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        new_slug = payload.validated_data.get("slug") or services.study_duplicate_slug(study=study)
        try:
            copy = services.study_duplicate(study=study, slug=new_slug, owner=request.user)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        return ApiResponse(StudySerializer(copy, context=self.get_serializer_context()).data,
                           status=status.HTTP_201_CREATED)

    @extend_schema(request=ExclusionSerializer, responses={200: ParticipantSerializer},
                   description="Exclude a participant from analyses with a reason (kept with the analysis and the "
                               "exports), or take the exclusion back with include=true. The answers are kept.")
    @action(detail=True, methods=["post"], url_path="participants/exclusion")
    def participant_exclusion(self, request: Request, slug: str | None = None) -> ApiResponse:
        study = self.get_object()
        payload = ExclusionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        participant = study.participants.filter(pk=payload.validated_data["participant"]).first()
        if participant is None:
            return ApiResponse({"participant": ["This study has no such participant."]},
                               status=status.HTTP_404_NOT_FOUND)
        try:
            if payload.validated_data["include"]:
                participant = services.participant_include(participant=participant)
            else:
                participant = services.participant_exclude(participant=participant,
                                                            reason=payload.validated_data["reason"], by=request.user)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error
        return ApiResponse(ParticipantSerializer(participant, context=self.get_serializer_context()).data)

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
