"""Researcher API shapes for checkpoints and stimulus grids; creation goes through explainers.services."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from explainers.models import Checkpoint, GridCell, StimulusGrid


class CheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Checkpoint
        fields = ["id", "name", "architecture", "sha256", "metrics", "config", "created_at"]
        read_only_fields = fields


class GridCellSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = GridCell
        fields = ["row", "column", "image", "url", "logit", "is_original", "source_index", "parameters"]
        read_only_fields = fields

    def get_url(self, cell: GridCell) -> str:
        from django.conf import settings

        return f"{settings.MEDIA_URL}{cell.image}"


class GridProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=StimulusGrid.Status.choices)
    progress = serializers.IntegerField(min_value=0, max_value=100)
    error = serializers.CharField(allow_blank=True)
    is_ready = serializers.BooleanField()
    task_id = serializers.CharField(allow_blank=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class StimulusGridSerializer(serializers.ModelSerializer):
    """Create a grid from a checkpoint, a registered method and a layout; it is pregenerated at once."""

    checkpoint = serializers.PrimaryKeyRelatedField(queryset=Checkpoint.objects.all())
    seed = serializers.IntegerField(min_value=0, default=0)
    parameters = serializers.JSONField(required=False, default=dict)
    layout = serializers.JSONField(required=False, default=dict,
                                   help_text="rows, columns, percentiles, held_out, batch_size (defaults 30 × 5).")

    class Meta:
        model = StimulusGrid
        fields = ["id", "name", "checkpoint", "method", "parameters", "layout", "seed", "status", "progress",
                  "error", "directory", "column_labels", "provenance", "task_id", "created_at", "finished_at"]
        read_only_fields = ["id", "status", "progress", "error", "directory", "column_labels", "provenance",
                            "task_id", "created_at", "finished_at"]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and not request.user.is_superuser:
            from django.db.models import Q

            # Only the researcher's own (or shared, ownerless) checkpoints can be chosen.
            self.fields["checkpoint"].queryset = Checkpoint.objects.filter(
                Q(owner=request.user) | Q(owner__isnull=True))

    def create(self, validated_data):
        from explainers.services.grids import grid_create

        try:
            return grid_create(owner=self.context["request"].user, **validated_data)
        except DjangoValidationError as exc:
            detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            raise serializers.ValidationError(detail) from exc


class StimulusGridDetailSerializer(StimulusGridSerializer):
    cells = GridCellSerializer(many=True, read_only=True)

    class Meta(StimulusGridSerializer.Meta):
        fields = StimulusGridSerializer.Meta.fields + ["cells"]
        read_only_fields = StimulusGridSerializer.Meta.read_only_fields + ["cells"]
