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

from explainers.models import Checkpoint, Dataset, GridCell, StimulusGrid


class OwnedAdminMixin:
    """Non-superusers see and change only the rows they own."""

    owner_field = "owner"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(**{self.owner_field: request.user})


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "seed", "created_at"]
    list_filter = ["kind"]


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
