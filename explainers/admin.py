"""Admin for datasets, checkpoints and stimulus grids. Researchers see only their own objects.

Adding a grid here validates it through explainers.services.grid_configuration (a bad layout, an unready or foreign
checkpoint or an unknown method is a form error) and enqueues its pregeneration; the change page shows a
live progress bar fed by explainers:grid-progress.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.html import format_html

from explainers.models import Checkpoint, Dataset, GridCell, RegisteredModel, StimulusGrid, StimulusSet


class OwnedAdminMixin:
    """Non-superusers see and change only the rows they own."""

    owner_field = "owner"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(**{self.owner_field: request.user})


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form, on the named fields where the form has them."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class ServiceAddForm(forms.ModelForm):
    """An add form whose ``create`` calls a service in ``clean``: a refusal is a form error, nothing is stored."""

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.created = None

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.created = self.create(cleaned)
            except ValidationError as exc:
                _form_errors(self, exc)
        return cleaned

    def create(self, cleaned):
        raise NotImplementedError


class ServiceAddAdmin(OwnedAdminMixin, admin.ModelAdmin):
    """The add page shows ``add_form`` (bound to the request); the object is whatever the service created."""

    add_form: type[ServiceAddForm]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            base = self.add_form

            class RequestForm(base):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return RequestForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return list(self.add_form.base_fields) if obj is None else super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [f.name for f in self.model._meta.fields]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.pk = form.created.pk
            obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass


class DatasetAddForm(ServiceAddForm):
    upload = forms.FileField(required=False, help_text="Image folder or zip: a zip of images with labels.csv "
                                                       "(filename,label[,attributes…]) or one folder per class.")
    classes = forms.CharField(required=False, help_text="Optional: class names in output order, comma-separated.")
    val_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=0.99)
    test_fraction = forms.FloatField(initial=0.2, min_value=0, max_value=0.99)
    size = forms.IntegerField(initial=16, help_text="Digits / Two4Two: image size in pixels.")

    class Meta:
        model = Dataset
        fields = ["name", "kind", "seed"]

    def create(self, cleaned):
        from explainers.services.datasets import dataset_import, dataset_register_builtin

        owner = self.request.user
        if cleaned["kind"] != Dataset.Kind.IMAGE_FOLDER:
            return dataset_register_builtin(owner=owner, source=cleaned["kind"], name=cleaned["name"],
                                            size=cleaned["size"], seed=cleaned["seed"])
        if not cleaned.get("upload"):
            raise ValidationError({"upload": ["Upload a zip of images."]})
        classes = [c.strip() for c in (cleaned.get("classes") or "").split(",") if c.strip()] or None
        return dataset_import(owner=owner, source=cleaned["upload"], name=cleaned["name"], class_names=classes,
                              seed=cleaned["seed"], val_fraction=cleaned["val_fraction"],
                              test_fraction=cleaned["test_fraction"])


@admin.register(Dataset)
class DatasetAdmin(ServiceAddAdmin):
    add_form = DatasetAddForm
    list_display = ["name", "kind", "image_count", "short_sha256", "seed", "created_at"]
    list_filter = ["kind"]

    @admin.display(description="sha256")
    def short_sha256(self, obj: Dataset) -> str:
        return obj.content_sha256[:12]

    def delete_model(self, request, obj):
        from explainers.services.datasets import dataset_delete_files

        super().delete_model(request, obj)
        dataset_delete_files(obj)


class RegisteredModelAddForm(ServiceAddForm):
    upload = forms.FileField(help_text="A TorchScript (torch.jit.save) or torch.export (torch.export.save) file. "
                                       "Pickled Python objects are refused unread.")
    mean = forms.CharField(required=False, help_text="Per-channel mean subtracted from images in [0, 1], e.g. 0.5.")
    std = forms.CharField(required=False, help_text="Per-channel standard deviation, e.g. 0.5.")

    class Meta:
        model = RegisteredModel
        fields = ["name", "dataset", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.request is not None and not self.request.user.is_superuser:
            self.fields["dataset"].queryset = Dataset.objects.filter(owner=self.request.user)

    def create(self, cleaned):
        from explainers.services.classifiers import model_register

        def numbers(text):
            try:
                return [float(v) for v in text.split(",")] if text else None
            except ValueError:
                raise ValidationError({"mean": [f"Expected comma-separated numbers, got {text!r}."]}) from None

        return model_register(owner=self.request.user, source=cleaned["upload"], name=cleaned["name"],
                              dataset=cleaned["dataset"], kind=cleaned["kind"], mean=numbers(cleaned.get("mean")),
                              std=numbers(cleaned.get("std")))


@admin.register(RegisteredModel)
class RegisteredModelAdmin(ServiceAddAdmin):
    add_form = RegisteredModelAddForm
    list_display = ["name", "kind", "file_format", "dataset", "accuracy", "created_at"]
    list_filter = ["kind", "file_format"]
    actions = ["evaluate"]

    @admin.action(description="Report the accuracy on the held-out split")
    def evaluate(self, request, queryset):
        from explainers.services.classifiers import classifier_evaluate

        for model in queryset:
            try:
                model = classifier_evaluate(model=model)
            except (ValidationError, ValueError) as exc:
                self.message_user(request, f"{model}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{model}: accuracy {model.accuracy:.3f}", messages.SUCCESS)


class StimulusSetAddForm(ServiceAddForm):
    upload = forms.FileField(required=False, help_text="Your own stimuli instead: a zip of images with an optional "
                                                       "metadata.csv (filename + any columns).")
    method = forms.CharField(required=False, help_text="grad_cam, integrated_gradients, smoothgrad, "
                                                       "saliency_gradient, lime or example_based.")
    split = forms.ChoiceField(choices=[("test", "test"), ("val", "val"), ("train", "train")], initial="test")
    count = forms.IntegerField(initial=20, min_value=1)

    class Meta:
        model = StimulusSet
        fields = ["name", "model", "parameters", "seed"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].required = False
        if self.request is not None and not self.request.user.is_superuser:
            self.fields["model"].queryset = RegisteredModel.objects.filter(owner=self.request.user)

    def create(self, cleaned):
        from explainers.services.stimulus_sets import stimulus_set_create, stimulus_set_upload

        if cleaned.get("upload"):
            return stimulus_set_upload(owner=self.request.user, source=cleaned["upload"], name=cleaned["name"])
        if not cleaned.get("model"):
            raise ValidationError({"model": ["Choose a registered model, or upload your own images."]})
        return stimulus_set_create(owner=self.request.user, model=cleaned["model"], method=cleaned.get("method") or "",
                                   name=cleaned["name"], parameters=cleaned.get("parameters") or {},
                                   split=cleaned["split"], count=cleaned["count"], seed=cleaned.get("seed") or 0)


@admin.register(StimulusSet)
class StimulusSetAdmin(ServiceAddAdmin):
    add_form = StimulusSetAddForm
    list_display = ["name", "kind", "method", "model", "status", "progress", "created_at"]
    list_filter = ["kind", "status", "method"]
    change_form_template = "explainers/admin/stimulusgrid_change_form.html"

    def get_inlines(self, request, obj):
        return [GridCellInline] if obj is not None and obj.is_ready else []


@admin.register(Checkpoint)
class CheckpointAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "architecture", "short_sha256", "owner", "created_at"]
    readonly_fields = ["sha256", "metrics", "config", "created_at"]
    search_fields = ["name", "sha256"]

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if request.user.is_superuser else queryset.filter(Q(owner=request.user) | Q(owner__isnull=True))

    def has_change_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser and obj.owner_id != request.user.pk:
            return False  # shared checkpoints are visible, not editable
        return super().has_change_permission(request, obj)

    has_delete_permission = has_change_permission

    @admin.display(description="sha256")
    def short_sha256(self, obj: Checkpoint) -> str:
        return obj.sha256[:12]


class StimulusGridAddForm(forms.ModelForm):
    class Meta:
        model = StimulusGrid
        fields = ["name", "checkpoint", "method", "parameters", "layout", "seed"]
        help_texts = {"layout": 'e.g. {"rows": 30, "percentiles": [33.3, 75]}; empty for the seed study\'s 30 × 5.'}

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        from explainers.core.stimuli.layout import GRID_KINDS

        self.fields["method"] = forms.ChoiceField(choices=[(name, name) for name in sorted(GRID_KINDS)])
        if request is not None and not request.user.is_superuser:
            self.fields["checkpoint"].queryset = Checkpoint.objects.filter(
                Q(owner=request.user) | Q(owner__isnull=True))

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        from explainers.services.grid_configuration import grid_validate_configuration

        try:
            grid_validate_configuration(owner=self.request.user, checkpoint=cleaned["checkpoint"],
                                        method=cleaned["method"], parameters=cleaned.get("parameters") or {},
                                        layout=cleaned.get("layout") or {})
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


class GridCellInline(admin.TabularInline):
    model = GridCell
    fields = ["row", "column", "thumbnail", "logit", "is_original", "source_index", "parameters"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="image")
    def thumbnail(self, cell: GridCell) -> str:
        from django.conf import settings

        return format_html('<img src="{}{}" width="48" height="48" alt="" loading="lazy">',
                           settings.MEDIA_URL, cell.image)


@admin.register(StimulusGrid)
class StimulusGridAdmin(OwnedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "method", "checkpoint", "status", "progress_bar", "created_at"]
    list_filter = ["status", "method"]
    search_fields = ["name"]
    readonly_fields = ["status", "progress", "error", "directory", "column_labels", "provenance", "task_id",
                       "created_at", "finished_at", "owner"]
    actions = ["regenerate"]
    change_form_template = "explainers/admin/stimulusgrid_change_form.html"
    inlines = [GridCellInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = StimulusGridAddForm

            class RequestForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, request=request, **inner)

            return RequestForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return StimulusGridAddForm.Meta.fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # A grid's configuration is frozen once it exists: regenerate or create a new one instead.
        return self.readonly_fields + ["name", "checkpoint", "method", "parameters", "layout", "seed"]

    def get_inlines(self, request, obj):
        return [GridCellInline] if obj is not None and obj.is_ready else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        from explainers.services.grids import grid_create

        data = form.cleaned_data
        created = grid_create(owner=request.user, checkpoint=data["checkpoint"], method=data["method"],
                              name=data.get("name") or "", parameters=data.get("parameters") or {},
                              layout=data.get("layout") or {}, seed=data.get("seed") or 0, check_capacity=False)
        obj.pk = created.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # cells are written by the worker only

    @admin.display(description="progress")
    def progress_bar(self, grid: StimulusGrid) -> str:
        return format_html('<progress max="100" value="{}" aria-label="progress">{}%</progress> {}%',
                           grid.progress, grid.progress, grid.progress)

    @admin.action(description="Regenerate the selected grids")
    def regenerate(self, request, queryset):
        from explainers.services.grids import grid_regenerate

        for grid in queryset:
            try:
                grid_regenerate(grid=grid)
            except ValidationError as exc:
                self.message_user(request, f"{grid}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{grid}: enqueued again.", messages.SUCCESS)
