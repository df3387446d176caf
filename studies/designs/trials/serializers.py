"""API shapes of trials studies; every write goes through the services (validated, all or nothing)."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from studies.designs.common.serializers import OwnStudyField, OwnStudyObjectField, service_saved

from . import services
from .models import ExplanationImage, PoolImage, Trial, TrialMethod, TrialSetup


class _OwnMethodField(OwnStudyObjectField):
    model = TrialMethod


class _OwnPoolImageField(OwnStudyObjectField):
    model = PoolImage


class TrialSetupSerializer(serializers.ModelSerializer):
    study = OwnStudyField(slug_field="slug")

    class Meta:
        model = TrialSetup
        fields = ["id", "study", "trials_per_participant", "prediction_template", "first_question", "first_labels",
                  "second_question", "second_labels", "min_instructions_seconds"]

    def create(self, validated_data: dict[str, Any]) -> TrialSetup:
        return service_saved(services.trial_setup_save, **validated_data)

    def update(self, instance: TrialSetup, validated_data: dict[str, Any]) -> TrialSetup:
        validated_data.pop("study", None)
        return service_saved(services.trial_setup_save, study=instance.study, **validated_data)


class TrialMethodSerializer(serializers.ModelSerializer):
    study = OwnStudyField(slug_field="slug")

    class Meta:
        model = TrialMethod
        fields = ["id", "study", "key", "name", "description", "explanation_method", "order"]

    def create(self, validated_data: dict[str, Any]) -> TrialMethod:
        return service_saved(services.trial_method_create, **validated_data)


class PoolImageSerializer(serializers.ModelSerializer):
    study = OwnStudyField(slug_field="slug")

    class Meta:
        model = PoolImage
        fields = ["id", "study", "key", "image", "prediction", "source_index", "order"]

    def create(self, validated_data: dict[str, Any]) -> PoolImage:
        return service_saved(services.pool_image_create, **validated_data)


class ExplanationImageSerializer(serializers.ModelSerializer):
    method = _OwnMethodField()
    pool_image = _OwnPoolImageField()

    class Meta:
        model = ExplanationImage
        fields = ["id", "method", "pool_image", "image"]

    def create(self, validated_data: dict[str, Any]) -> ExplanationImage:
        return service_saved(services.explanation_image_set, **validated_data)


class TrialSerializer(serializers.ModelSerializer):
    """A stored trial of a participant's list, with the current ratings."""

    image = serializers.CharField(source="pool_image.key")
    first_method = serializers.CharField(source="first_method.key")
    second_method = serializers.CharField(source="second_method.key")
    is_simulated = serializers.BooleanField(source="participant.is_simulated")

    class Meta:
        model = Trial
        fields = ["id", "participant", "is_simulated", "position", "image", "first_method", "second_method",
                  "first_rating", "second_rating", "first_answered_at", "second_answered_at"]
