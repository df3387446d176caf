"""API shapes of trials studies; every write goes through the services (validated, all or nothing)."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from studies import selectors
from studies.serializers import as_drf_error

from . import services
from .models import ExplanationImage, PoolImage, Trial, TrialMethod, TrialSetup


class _OwnStudyField(serializers.SlugRelatedField):
    def get_queryset(self):
        return selectors.study_list_for_user(user=self.context["request"].user)


class _OwnObjectField(serializers.PrimaryKeyRelatedField):
    model: type

    def get_queryset(self):
        own = selectors.study_list_for_user(user=self.context["request"].user)
        return self.model.objects.filter(study__in=own)


class _OwnMethodField(_OwnObjectField):
    model = TrialMethod


class _OwnPoolImageField(_OwnObjectField):
    model = PoolImage


def _saved(call, **kwargs):
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        raise as_drf_error(error) from error


class TrialSetupSerializer(serializers.ModelSerializer):
    study = _OwnStudyField(slug_field="slug")

    class Meta:
        model = TrialSetup
        fields = ["id", "study", "trials_per_participant", "prediction_template", "first_question", "first_labels",
                  "second_question", "second_labels", "min_instructions_seconds"]

    def create(self, validated_data: dict[str, Any]) -> TrialSetup:
        return _saved(services.trial_setup_save, **validated_data)

    def update(self, instance: TrialSetup, validated_data: dict[str, Any]) -> TrialSetup:
        validated_data.pop("study", None)
        return _saved(services.trial_setup_save, study=instance.study, **validated_data)


class TrialMethodSerializer(serializers.ModelSerializer):
    study = _OwnStudyField(slug_field="slug")

    class Meta:
        model = TrialMethod
        fields = ["id", "study", "key", "name", "description", "explanation_method", "order"]

    def create(self, validated_data: dict[str, Any]) -> TrialMethod:
        return _saved(services.trial_method_create, **validated_data)


class PoolImageSerializer(serializers.ModelSerializer):
    study = _OwnStudyField(slug_field="slug")

    class Meta:
        model = PoolImage
        fields = ["id", "study", "key", "image", "prediction", "source_index", "order"]

    def create(self, validated_data: dict[str, Any]) -> PoolImage:
        return _saved(services.pool_image_create, **validated_data)


class ExplanationImageSerializer(serializers.ModelSerializer):
    method = _OwnMethodField()
    pool_image = _OwnPoolImageField()

    class Meta:
        model = ExplanationImage
        fields = ["id", "method", "pool_image", "image"]

    def create(self, validated_data: dict[str, Any]) -> ExplanationImage:
        return _saved(services.explanation_image_set, **validated_data)


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
