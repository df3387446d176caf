"""Admin of annotation studies: settings, tasks, items with their images; allocations and votes read-only.

A researcher (staff) sees only objects of their own studies, and can attach them only to their own
annotation studies. Model validation (clean) refuses bad configuration with a message on the field.
"""
from __future__ import annotations

from django.contrib import admin

from explainers.models import GridCell
from studies.designs.common.admin import OwnedByStudyAdmin, ParticipantEvidenceAdmin
from studies.models import Study

from .models import (
    AnnotationAllocation,
    AnnotationImage,
    AnnotationItem,
    AnnotationSettings,
    AnnotationTask,
    AnnotationVote,
)


class _AnnotationAdmin(OwnedByStudyAdmin):
    design = Study.Design.ANNOTATION
    own_foreign_keys = ("task",)


@admin.register(AnnotationSettings)
class AnnotationSettingsAdmin(_AnnotationAdmin):
    list_display = ["study", "votes_per_item", "items_per_participant", "planned_participants"]


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(_AnnotationAdmin):
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
class AnnotationItemAdmin(_AnnotationAdmin):
    study_path = "task__study"
    list_display = ["key", "task", "subcategory", "ground_truth", "is_attention", "order"]
    list_filter = ["is_attention", "subcategory"]
    search_fields = ["key", "subcategory"]
    inlines = [AnnotationImageInline]


@admin.register(AnnotationAllocation)
class AnnotationAllocationAdmin(ParticipantEvidenceAdmin, _AnnotationAdmin):
    list_display = ["participant", "item", "position", "placement", "shown_at", "released_at"]
    list_filter = ["released_at"]


@admin.register(AnnotationVote)
class AnnotationVoteAdmin(ParticipantEvidenceAdmin, _AnnotationAdmin):
    list_display = ["participant", "item", "choice", "placement", "seconds", "created_at"]
