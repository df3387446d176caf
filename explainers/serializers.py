"""Researcher API shapes for checkpoints and stimulus grids; creation goes through explainers.services."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from explainers.models import Checkpoint, Dataset, GridCell, RegisteredModel, StimulusGrid


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


def raise_as_drf(exc: DjangoValidationError):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    raise serializers.ValidationError(detail) from exc


class DatasetSerializer(serializers.ModelSerializer):
    """A dataset: upload a zip (``file``) of images, or name the source ``digits`` or ``two4two``."""

    file = serializers.FileField(write_only=True, required=False,
                                 help_text="zip of images with labels.csv or one folder per class")
    class_names_order = serializers.ListField(child=serializers.CharField(), write_only=True, required=False,
                                              help_text="class names in output order (default: sorted labels)")
    val_fraction = serializers.FloatField(write_only=True, required=False, default=0.1)
    test_fraction = serializers.FloatField(write_only=True, required=False, default=0.2)
    size = serializers.IntegerField(write_only=True, required=False, default=16)
    sampler = serializers.CharField(write_only=True, required=False, default="study")
    count = serializers.IntegerField(write_only=True, required=False, default=2000)

    class Meta:
        model = Dataset
        fields = ["id", "name", "kind", "seed", "splits", "class_names", "attribute_names", "image_shape",
                  "image_count", "content_sha256", "created_at", "file", "class_names_order", "val_fraction",
                  "test_fraction", "size", "sampler", "count"]
        read_only_fields = ["id", "splits", "class_names", "attribute_names", "image_shape", "image_count",
                            "content_sha256", "created_at"]
        extra_kwargs = {"kind": {"default": Dataset.Kind.IMAGE_FOLDER}}

    def create(self, data):
        from explainers.services.datasets import dataset_import, dataset_register_builtin

        owner = self.context["request"].user
        try:
            if data.get("kind", Dataset.Kind.IMAGE_FOLDER) == Dataset.Kind.IMAGE_FOLDER:
                if "file" not in data:
                    raise DjangoValidationError({"file": ["Upload a zip of images."]})
                return dataset_import(owner=owner, source=data["file"], name=data["name"],
                                      class_names=data.get("class_names_order"), seed=data.get("seed", 0),
                                      val_fraction=data["val_fraction"], test_fraction=data["test_fraction"])
            return dataset_register_builtin(owner=owner, source=data["kind"], name=data["name"], size=data["size"],
                                            seed=data.get("seed", 0), sampler=data["sampler"], count=data["count"])
        except DjangoValidationError as exc:
            raise_as_drf(exc)


class RegisteredModelSerializer(serializers.ModelSerializer):
    """Register a classifier file (TorchScript or torch.export) for one of your datasets."""

    upload = serializers.FileField(write_only=True, help_text="the TorchScript or torch.export file")
    mean = serializers.ListField(child=serializers.FloatField(), write_only=True, required=False)
    std = serializers.ListField(child=serializers.FloatField(), write_only=True, required=False)
    evaluate = serializers.BooleanField(write_only=True, required=False, default=True)

    class Meta:
        model = RegisteredModel
        fields = ["id", "name", "kind", "file_format", "dataset", "sha256", "input_shape", "normalisation",
                  "class_names", "capabilities", "accuracy", "metrics", "created_at", "upload", "mean", "std",
                  "evaluate"]
        read_only_fields = ["id", "file_format", "sha256", "normalisation", "capabilities", "accuracy", "metrics",
                            "created_at"]
        extra_kwargs = {"input_shape": {"required": False}, "class_names": {"required": False}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and not request.user.is_superuser:
            self.fields["dataset"].queryset = Dataset.objects.filter(owner=request.user)

    def create(self, data):
        from explainers.services.classifiers import model_register

        try:
            return model_register(owner=self.context["request"].user, source=data["upload"], name=data["name"],
                                  dataset=data["dataset"], kind=data.get("kind", RegisteredModel.Kind.DIFFERENTIABLE),
                                  input_shape=data.get("input_shape") or None, mean=data.get("mean"),
                                  std=data.get("std"), class_names=data.get("class_names") or None,
                                  evaluate=data["evaluate"])
        except DjangoValidationError as exc:
            raise_as_drf(exc)


class StimulusImageSerializer(serializers.Serializer):
    """One image of a stimulus set with what a study design needs to know of it."""

    id = serializers.IntegerField()
    row = serializers.IntegerField()
    column = serializers.IntegerField()
    url = serializers.CharField()
    method = serializers.CharField(allow_blank=True)
    role = serializers.CharField(allow_blank=True)
    source_index = serializers.IntegerField()
    label = serializers.CharField(allow_blank=True)
    prediction = serializers.CharField(allow_blank=True)
    logit = serializers.FloatField(allow_null=True)
    is_original = serializers.BooleanField()
    metadata = serializers.JSONField()


class StimulusSetSerializer(serializers.ModelSerializer):
    """A per-image stimulus set: a registered model, a method and the images to explain; generated at once."""

    model = serializers.PrimaryKeyRelatedField(queryset=RegisteredModel.objects.all())
    parameters = serializers.JSONField(required=False, default=dict)
    split = serializers.CharField(write_only=True, required=False, default="test")
    count = serializers.IntegerField(write_only=True, required=False, default=20)
    seed = serializers.IntegerField(min_value=0, default=0)

    class Meta:
        model = StimulusGrid
        fields = ["id", "name", "kind", "model", "method", "parameters", "split", "count", "seed", "layout",
                  "status", "progress", "error", "directory", "column_labels", "provenance", "created_at",
                  "finished_at"]
        read_only_fields = ["id", "kind", "layout", "status", "progress", "error", "directory", "column_labels",
                            "provenance", "created_at", "finished_at"]
        extra_kwargs = {"name": {"required": False, "allow_blank": True}, "method": {"required": True}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated and not request.user.is_superuser:
            self.fields["model"].queryset = RegisteredModel.objects.filter(owner=request.user)

    def create(self, data):
        from explainers.services.stimulus_sets import stimulus_set_create

        try:
            return stimulus_set_create(owner=self.context["request"].user, model=data["model"], method=data["method"],
                                       name=data.get("name", ""), parameters=data.get("parameters"),
                                       split=data["split"], count=data["count"], seed=data["seed"])
        except DjangoValidationError as exc:
            raise_as_drf(exc)


class StimulusSetUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    file = serializers.FileField(help_text="zip of images with an optional metadata.csv (filename + any columns)")
