"""Admin of annotation studies: settings, tasks, items with their images; allocations and votes read-only.

A researcher (staff) sees only objects of their own studies, and can attach them only to their own
annotation studies. Model validation (clean) refuses bad configuration with a message on the field.
"""
from __future__ import annotations

from django.contrib import admin

from explainers.models import GridCell
from studies import selectors
from studies.models import Study

from .models import (
    AnnotationAllocation,
    AnnotationImage,
    AnnotationItem,
    AnnotationSettings,
    AnnotationTask,
    AnnotationVote,
)


class _OwnedByStudyAdmin(admin.ModelAdmin):
    """Scope the list to the researcher's studies; ``study_path`` is the lookup from the model to its study."""

    study_path = "study"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.study_path}__owner": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        own = selectors.study_list_for_user(user=request.user).filter(design=Study.Design.ANNOTATION)
        if db_field.name == "study":
            kwargs["queryset"] = own
        elif db_field.name == "task":
            kwargs["queryset"] = AnnotationTask.objects.filter(study__in=own)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AnnotationSettings)
class AnnotationSettingsAdmin(_OwnedByStudyAdmin):
    list_display = ["study", "votes_per_item", "items_per_participant", "planned_participants"]


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(_OwnedByStudyAdmin):
    list_display = ["key", "title", "study", "answer_kind", "measures_accuracy", "order"]
    list_filter = ["answer_kind"]
    search_fields = ["key", "title", "question"]


class AnnotationImageInline(admin.TabularInline):
    model = AnnotationImage
    extra = 0
    fields = ["position", "grid_cell", "image", "caption"]
    raw_id_fields = ["grid_cell"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "grid_cell" and not request.user.is_superuser:
            kwargs["queryset"] = GridCell.objects.filter(grid__owner=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(AnnotationItem)
class AnnotationItemAdmin(_OwnedByStudyAdmin):
    study_path = "task__study"
    list_display = ["key", "task", "subcategory", "ground_truth", "is_attention", "order"]
    list_filter = ["is_attention", "subcategory"]
    search_fields = ["key", "subcategory"]
    inlines = [AnnotationImageInline]


class _ReadOnlyAdmin(_OwnedByStudyAdmin):
    study_path = "participant__study"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AnnotationAllocation)
class AnnotationAllocationAdmin(_ReadOnlyAdmin):
    list_display = ["participant", "item", "position", "placement", "shown_at", "released_at"]
    list_filter = ["released_at"]


@admin.register(AnnotationVote)
class AnnotationVoteAdmin(_ReadOnlyAdmin):
    list_display = ["participant", "item", "choice", "placement", "seconds", "created_at"]
