"""ORM records of the explanation pipeline: datasets, registered models, checkpoints, stimulus sets.

Only bookkeeping lives here; the torch code is in explainers.core, called through explainers.services.
A stimulus set is a ``StimulusGrid`` row: the seed's logit-binned grids (kind ``grid``), one explanation per
dataset image (kind ``per_image``, rows of [original | explanation]) and researchers' uploaded images (kind
``uploaded``) share one table, one Celery task, one manifest format and one atomic publish, so every study
design that shows a grid or its cells can show any of them.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    """A labelled image dataset from one of three sources: a researcher's images, the digits, Two4Two."""

    class Kind(models.TextChoices):
        TWO4TWO = "two4two", "Two4Two (procedural)"
        DIGITS = "digits", "scikit-learn digits"
        IMAGE_FOLDER = "image_folder", "Image folder or zip"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="datasets",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.TWO4TWO)
    parameters = models.JSONField(default=dict, blank=True, help_text="Generation parameters (sampler, size, …).")
    seed = models.BigIntegerField(default=0, help_text="Seed of the generator and of the reproducible split.")
    splits = models.JSONField(default=dict, blank=True, help_text='Split sizes, e.g. {"train": 6000, "test": 1000}.')
    class_names = models.JSONField(default=list, blank=True)
    attribute_names = models.JSONField(default=list, blank=True, help_text="Extra CSV columns kept per image.")
    image_shape = models.JSONField(default=list, blank=True, help_text="[height, width, channels] of every image.")
    image_count = models.PositiveIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64, blank=True, db_index=True,
                                      help_text="sha256 of the decoded images, labels and attributes.")
    directory = models.CharField(max_length=300, blank=True,
                                 help_text="Stored arrays under MEDIA_ROOT (an unguessable folder name).")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, seed {self.seed})"


class Checkpoint(models.Model):
    """A trained model file with its configuration, metrics and provenance."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="checkpoints",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="checkpoints", null=True, blank=True)
    architecture = models.CharField(max_length=64, default="glow_linear")
    config = models.JSONField(default=dict, blank=True)
    file = models.CharField(max_length=500, help_text="Path of the checkpoint file (absolute or under ARTIFACTS_ROOT).")
    sha256 = models.CharField(max_length=64, db_index=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="validation accuracy, bits/dim, …")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.sha256[:10]})"


class RegisteredModel(models.Model):
    """A researcher's trained classifier (TorchScript or torch.export), or a platform-trained checkpoint."""

    class Kind(models.TextChoices):
        DIFFERENTIABLE = "differentiable", "Differentiable black box"
        INVERTIBLE = "invertible", "Invertible network"
        GENERATOR = "generator", "Generator"

    class Format(models.TextChoices):
        TORCHSCRIPT = "torchscript", "TorchScript"
        TORCH_EXPORT = "torch_export", "torch.export program"
        CHECKPOINT = "checkpoint", "Platform checkpoint"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="registered_models",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.DIFFERENTIABLE)
    file_format = models.CharField(max_length=32, choices=Format.choices)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="registered_models")
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="registered_models",
                                   null=True, blank=True, help_text="The platform checkpoint (invertible models).")
    file = models.CharField(max_length=300, help_text="Path under MEDIA_ROOT (an unguessable name).")
    sha256 = models.CharField(max_length=64, db_index=True)
    input_shape = models.JSONField(default=list, help_text="[channels, height, width] the model takes.")
    normalisation = models.JSONField(default=dict, help_text='{"mean": [...], "std": [...]} per channel.')
    class_names = models.JSONField(default=list)
    capabilities = models.JSONField(default=list, help_text="What explanation methods may use: gradients, layers, …")
    accuracy = models.FloatField(null=True, blank=True, help_text="On the dataset's held-out (test) split.")
    metrics = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "model"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_file_format_display()}, {self.sha256[:10]})"


class StimulusGrid(models.Model):
    """A pregenerated stimulus set: the seed's rows × columns grid, per-image explanations, or uploads."""

    class Kind(models.TextChoices):
        GRID = "grid", "Logit-binned grid"
        PER_IMAGE = "per_image", "One explanation per image"
        UPLOADED = "uploaded", "Uploaded images"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stimulus_grids",
                              null=True, blank=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.GRID, db_index=True)
    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="grids", null=True, blank=True)
    model = models.ForeignKey(RegisteredModel, on_delete=models.PROTECT, related_name="stimulus_sets",
                              null=True, blank=True, help_text="The explained model of a per-image set.")
    method = models.CharField(max_length=64, blank=True, help_text="Registered explanation method name.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Validated method configuration.")
    layout = models.JSONField(default=dict, blank=True, help_text="rows, columns, percentiles, originals per bin, …")
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100 %")
    error = models.TextField(blank=True)
    directory = models.CharField(max_length=300, blank=True, help_text="Published folder under MEDIA_ROOT.")
    column_labels = models.JSONField(default=list, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} [{self.method}, {self.status}]"

    @property
    def is_ready(self) -> bool:
        return self.status == self.Status.READY


class StimulusSetManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().exclude(kind=StimulusGrid.Kind.GRID)


class StimulusSet(StimulusGrid):
    """The per-image and uploaded stimulus sets, for their own admin page (same table as the grids)."""

    objects = StimulusSetManager()

    class Meta:
        proxy = True
        verbose_name = "stimulus set"


class GridCell(models.Model):
    """One image of a grid with what produced it."""

    grid = models.ForeignKey(StimulusGrid, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveIntegerField()
    column = models.PositiveIntegerField()
    image = models.CharField(max_length=300, help_text="Path under MEDIA_ROOT.")
    logit = models.FloatField(null=True, blank=True, help_text="The model's logit of this image (of its "
                                                                 "predicted class for multi-class models).")
    is_original = models.BooleanField(default=False)
    source_index = models.IntegerField(help_text="Index of the held-out (or dataset, or uploaded) image this cell "
                                                 "comes from; -1 where none.")
    label = models.CharField(max_length=120, blank=True, help_text="Ground-truth class of the source image.")
    prediction = models.CharField(max_length=120, blank=True, help_text="The model's predicted class.")
    parameters = models.JSONField(default=dict, blank=True, help_text="Method parameters, e.g. alpha, target logit; "
                                                                      "uploaded metadata columns.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grid", "row", "column"], name="unique_grid_cell")]
        ordering = ["row", "column"]

    def __str__(self) -> str:
        return f"{self.grid_id}[{self.row},{self.column}]"
