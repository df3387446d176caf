"""API shapes of annotation studies; every write goes through the services (validated, all or nothing)."""
from __future__ import annotations

from typing import Any

from rest_framework import serializers

from explainers.models import GridCell
from studies.designs.common.serializers import OwnStudyField, OwnStudyObjectField, service_saved

from . import services
from .models import AnnotationImage, AnnotationItem, AnnotationSettings, AnnotationTask


class _OwnTaskField(OwnStudyObjectField):
    model = AnnotationTask


class _OwnGridCellField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        user = self.context["request"].user
        cells = GridCell.objects.select_related("grid")
        return cells if user.is_superuser else cells.filter(grid__owner=user)


class AnnotationSettingsSerializer(serializers.ModelSerializer):
    study = OwnStudyField(slug_field="slug")

    class Meta:
        model = AnnotationSettings
        fields = ["id", "study", "votes_per_item", "items_per_participant", "planned_participants"]

    def create(self, validated_data: dict[str, Any]) -> AnnotationSettings:
        study = validated_data.pop("study")
        return service_saved(services.annotation_settings_save, study=study, **validated_data)

    def update(self, instance: AnnotationSettings, validated_data: dict[str, Any]) -> AnnotationSettings:
        validated_data.pop("study", None)
        return service_saved(services.annotation_settings_save, study=instance.study, **validated_data)


class AnnotationTaskSerializer(serializers.ModelSerializer):
    study = OwnStudyField(slug_field="slug")

    class Meta:
        model = AnnotationTask
        fields = ["id", "study", "key", "title", "question", "answer_kind", "choices", "measures_accuracy", "order"]

    def create(self, validated_data: dict[str, Any]) -> AnnotationTask:
        return service_saved(services.annotation_task_create, **validated_data)

    def update(self, instance: AnnotationTask, validated_data: dict[str, Any]) -> AnnotationTask:
        if validated_data.pop("study", instance.study) != instance.study:
            raise serializers.ValidationError({"study": "A task cannot move to another study."})
        return service_saved(services.annotation_task_update, task=instance, data=validated_data)


class AnnotationImageSerializer(serializers.ModelSerializer):
    grid_cell = _OwnGridCellField(required=False, allow_null=True)
    url = serializers.CharField(read_only=True)

    class Meta:
        model = AnnotationImage
        fields = ["position", "grid_cell", "caption", "url"]
        read_only_fields = ["position"]


class AnnotationItemSerializer(serializers.ModelSerializer):
    task = _OwnTaskField()
    images = AnnotationImageSerializer(many=True, help_text="Grid cells in the order of the pair or row.")

    class Meta:
        model = AnnotationItem
        fields = ["id", "task", "key", "subcategory", "ground_truth", "is_attention", "order", "images"]

    def create(self, validated_data: dict[str, Any]) -> AnnotationItem:
        images = [{k: v for k, v in image.items() if k in ("grid_cell", "caption")}
                  for image in validated_data.pop("images")]
        return service_saved(services.annotation_item_create, images=images, **validated_data)

    def update(self, instance: AnnotationItem, validated_data: dict[str, Any]) -> AnnotationItem:
        if "images" in validated_data:
            raise serializers.ValidationError({"images": "Images of an item cannot be replaced; create a new item."})
        if validated_data.pop("task", instance.task) != instance.task:
            raise serializers.ValidationError({"task": "An item cannot move to another task."})
        return service_saved(services.annotation_item_update, item=instance, data=validated_data)
