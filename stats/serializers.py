from __future__ import annotations

from rest_framework import serializers

from studies.models import Item
from studies.serializers import ParticipantStatusField

from .analysis import CORRECTION_METHODS
from .models import Analysis, Hypothesis


class AnalysisSerializer(serializers.ModelSerializer):
    study = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Analysis
        fields = ["id", "study", "parameters", "data_hash", "results", "created_at", "created_by"]
        read_only_fields = fields


class AnalysisSummarySerializer(AnalysisSerializer):
    class Meta(AnalysisSerializer.Meta):
        fields = ["id", "study", "parameters", "data_hash", "created_at", "created_by"]
        read_only_fields = fields


class AnalysisRunSerializer(serializers.Serializer):
    """Options of an analysis; left out, each follows the study's analysis plan (a departure is exploratory)."""

    correction = serializers.ChoiceField(choices=CORRECTION_METHODS, required=False, allow_null=True)
    alpha = serializers.FloatField(required=False, allow_null=True, min_value=0.0001, max_value=0.5)
    include_simulated = serializers.BooleanField(default=False)
    min_stimulus_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)
    families = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                     allow_null=True)
    exact = serializers.ChoiceField(choices=["auto", "always"], required=False, allow_null=True)
    interim = serializers.BooleanField(default=False, help_text="Confirm an interim look at a live study (logged).")
    interim_reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class HypothesisSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hypothesis
        fields = ["id", "key", "kind", "parameters", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class SampleSizeSerializer(serializers.Serializer):
    d = serializers.FloatField(required=False)
    distributions = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()), required=False)
    alpha = serializers.FloatField(default=0.05)
    power = serializers.FloatField(default=0.8)
    family_size = serializers.IntegerField(default=1)
    conditions = serializers.IntegerField(default=2)
    efficiency = serializers.ChoiceField(choices=["normal", "worst_case"], default="normal")
    simulations = serializers.IntegerField(default=1000, min_value=100, max_value=5000)
    seed = serializers.IntegerField(default=0)

    def validate(self, attrs):
        if ("d" in attrs) == ("distributions" in attrs):
            raise serializers.ValidationError("Give either d or distributions.")
        return attrs


class ResponseRowSerializer(serializers.Serializer):
    """One answer in long format: the columns of stats.services.exports.LONG_COLUMNS."""

    participant = serializers.CharField(help_text="Pseudonym within the study (P0001, ...).")
    platform = serializers.CharField(required=False, help_text="Only with identified=1.")
    platform_participant_id = serializers.CharField(required=False, allow_blank=True,
                                                    help_text="PROLIFIC_PID or workerId; only with identified=1.")
    platform_submission_id = serializers.CharField(required=False, allow_blank=True,
                                                   help_text="SESSION_ID or assignmentId; only with identified=1.")
    condition = serializers.CharField()
    status = ParticipantStatusField()
    is_simulated = serializers.BooleanField()
    attention_failed = serializers.BooleanField()
    excluded_reason = serializers.CharField(allow_blank=True)
    stimulus_seconds = serializers.FloatField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    item = serializers.CharField()
    group = serializers.CharField()
    kind = serializers.ChoiceField(choices=Item.Kind.choices)
    page = serializers.ChoiceField(choices=Item.Page.choices)
    scale_points = serializers.IntegerField(allow_null=True)
    reverse_coded = serializers.BooleanField()
    value = serializers.JSONField(help_text="An integer for scaled items, text for free text.")
    answered_at = serializers.DateTimeField(allow_null=True)
    expected_answer = serializers.IntegerField(allow_null=True)
