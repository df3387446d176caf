"""Researcher API serializers. Writes go through studies.services; model validation errors become 400s."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from explainers.models import StimulusGrid

from . import recruitment, selectors, services
from .models import AuditEntry, Condition, ConsentVersion, Item, Participant, Study


def as_drf_error(error: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(error, "error_dict"):
        return serializers.ValidationError(
            {("non_field_errors" if k == "__all__" else k): v for k, v in error.message_dict.items()}
        )
    return serializers.ValidationError({"non_field_errors": error.messages})


class _UserScopedSlugField(serializers.SlugRelatedField):
    """A study chosen by slug among the requesting researcher's own studies only."""

    def get_queryset(self):
        return selectors.study_list_for_user(user=self.context["request"].user)


class _UserScopedGridField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = self.context["request"].user
        grids = StimulusGrid.objects.all()
        return grids if user.is_superuser else grids.filter(owner=user)


class StudySerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    participant_url = serializers.SerializerMethodField(help_text="The link to paste into the recruiting platform.")

    class Meta:
        model = Study
        fields = [
            "slug", "title", "description", "status", "design", "platform", "target_per_condition", "completion_code",
            "attention_fail_code", "declined_code", "screened_out_code", "consent_text", "instructions_text",
            "instructions_video_url",
            "randomize_items", "min_stimulus_seconds", "time_limit_minutes", "page_texts", "owner", "participant_url",
            "created_at", "launched_at",
        ]
        read_only_fields = ["status", "created_at", "launched_at"]
        extra_kwargs = {"time_limit_minutes": {"error_messages": {
            "min_value": "A time limit must be at least 1 minute (leave it empty for none)."}}}

    @extend_schema_field(OpenApiTypes.STR)
    def get_participant_url(self, study: Study) -> str:
        return recruitment.study_entry_url(study, request=self.context.get("request"))

    def validate_slug(self, value: str) -> str:
        if self.instance is not None and value != self.instance.slug and self.instance.status != Study.Status.DRAFT:
            raise serializers.ValidationError("The slug is part of the participant link; it cannot change after launch.")
        return value

    def create(self, validated_data: dict[str, Any]) -> Study:
        try:
            return services.study_create(owner=self.context["request"].user, **validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error

    def update(self, instance: Study, validated_data: dict[str, Any]) -> Study:
        try:
            return services.study_update(study=instance, data=validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


class ConditionSerializer(serializers.ModelSerializer):
    study = _UserScopedSlugField(slug_field="slug")
    stimulus_grid = _UserScopedGridField(required=False, allow_null=True)

    class Meta:
        model = Condition
        fields = ["id", "study", "name", "slug", "description", "order", "stimulus_grid", "stimulus_image",
                  "shows_explanation", "page_texts"]

    def validate_study(self, study: Study) -> Study:
        if self.instance is not None and study.pk != self.instance.study_id:
            raise serializers.ValidationError("A condition cannot move to another study.")
        return study

    def create(self, validated_data: dict[str, Any]) -> Condition:
        try:
            return services.condition_create(**validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error

    def update(self, instance: Condition, validated_data: dict[str, Any]) -> Condition:
        validated_data.pop("study", None)
        try:
            return services.condition_update(condition=instance, data=validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


class _StudyConditionField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = self.context["request"].user
        return Condition.objects.filter(study__in=selectors.study_list_for_user(user=user))


class ItemSerializer(serializers.ModelSerializer):
    study = _UserScopedSlugField(slug_field="slug")
    condition = _StudyConditionField(required=False, allow_null=True)
    labels = serializers.ListField(child=serializers.CharField(max_length=80), required=False, max_length=11)

    class Meta:
        model = Item
        fields = [
            "id", "study", "condition", "key", "text", "kind", "group", "page", "order", "scale_points",
            "anchor_low", "anchor_high", "labels", "reverse_coded", "expected_answer", "required",
        ]

    def validate_study(self, study: Study) -> Study:
        if self.instance is not None and study.pk != self.instance.study_id:
            raise serializers.ValidationError("An item cannot move to another study.")
        return study

    def create(self, validated_data: dict[str, Any]) -> Item:
        try:
            return services.item_create(**validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error

    def update(self, instance: Item, validated_data: dict[str, Any]) -> Item:
        validated_data.pop("study", None)
        try:
            return services.item_update(item=instance, data=validated_data)
        except DjangoValidationError as error:
            raise as_drf_error(error) from error


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(" + "|".join(Participant.Status.values) + ")$",
        "description": "Participant status: " + ", ".join(Participant.Status.values) + ".",
    }
)
class ParticipantStatusField(serializers.ChoiceField):
    """Described by a pattern, not an enum: drf-spectacular would otherwise name two different enums
    "status" (Study and Participant) and warn about the collision."""

    def __init__(self, **kwargs: Any):
        super().__init__(choices=Participant.Status.choices, **kwargs)


PLATFORM_ID_FIELDS = ("external_id", "platform_study_id", "platform_session_id", "assignment_id", "hit_id")


class DuplicateSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=80, required=False,
                                 help_text="The copy's slug; empty = <slug>-copy (numbered if taken).")


class ExclusionSerializer(serializers.Serializer):
    participant = serializers.IntegerField(help_text="The participant's id (as in the participants list).")
    reason = serializers.CharField(allow_blank=True, required=False, default="",
                                   help_text="Why (required to exclude); leave out with include=true.")
    include = serializers.BooleanField(default=False, help_text="Take an exclusion back instead.")


class ParticipantSerializer(serializers.ModelSerializer):
    """A participant's progress. Platform ids are filled in only for the study's owner."""

    condition = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    response_count = serializers.IntegerField(read_only=True)
    status = ParticipantStatusField(read_only=True)

    class Meta:
        model = Participant
        fields = [
            "id", "condition", "status", "is_simulated", "current_page", "started_at", "last_seen_at",
            "completed_at", "attention_failed", "response_count", "item_order", "platform", "platform_status",
            "consented_at", "excluded_reason", "excluded_at", *PLATFORM_ID_FIELDS,
        ]
        read_only_fields = fields

    def to_representation(self, participant: Participant) -> dict[str, Any]:
        data = super().to_representation(participant)
        if self.context["request"].user.pk != participant.study.owner_id:
            for name in PLATFORM_ID_FIELDS:
                data[name] = None
        return data


class PlatformIdSerializer(serializers.Serializer):
    platform_id = serializers.CharField(max_length=128, help_text="PROLIFIC_PID or MTurk workerId.")


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True, default=None)

    class Meta:
        model = AuditEntry
        fields = ["id", "action", "actor", "detail", "created_at"]
        read_only_fields = fields


class ConsentSupersedeSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=20000)


class ConsentVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentVersion
        fields = ["number", "text", "created_at"]
        read_only_fields = fields


class EmptySerializer(serializers.Serializer):
    pass


class ParticipantIdsSerializer(serializers.Serializer):
    participants = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000,
                                         help_text="Participant ids (the id of /participants/, not platform ids).")


class RejectSerializer(ParticipantIdsSerializer):
    message = serializers.CharField(max_length=2000)
    rejection_category = serializers.CharField(max_length=40)


class _BonusRow(serializers.Serializer):
    participant = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=6, decimal_places=2)


class BonusSerializer(serializers.Serializer):
    bonuses = serializers.ListField(child=_BonusRow(), min_length=1, max_length=1000)
