from __future__ import annotations

from rest_framework import serializers

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
    correction = serializers.ChoiceField(choices=CORRECTION_METHODS, default="bonferroni")
    alpha = serializers.FloatField(default=0.05, min_value=0.0001, max_value=0.5)
    include_simulated = serializers.BooleanField(default=False)
    min_stimulus_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0)
    families = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                     allow_null=True)


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
