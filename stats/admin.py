"""Admin: stored analyses (read-only), preregistered hypotheses (editable while the study is a draft) and
response exports as admin actions on "Study exports" (owners see their own studies; superusers all).

The export actions call stats.services.exports like every other export path: by default completed, real
participants only; the "all participants" actions add unfinished and simulated ones."""
from __future__ import annotations

import io
import zipfile

from django.contrib import admin, messages
from django.http import HttpResponse

from studies.models import Study

from .models import Analysis, Hypothesis, StudyExport
from .services.exports import responses_export


def _owned(request, queryset):
    return queryset if request.user.is_superuser else queryset.filter(owner=request.user)


def _export_action(fmt: str, description: str, *, everyone: bool = False, identified: bool = False):
    flags = {"include_simulated": everyone, "include_unfinished": everyone, "identified": identified}

    def action(modeladmin, request, queryset):
        studies = list(_owned(request, queryset))
        if not studies:
            modeladmin.message_user(request, "None of the selected studies is yours.", level=messages.ERROR)
            return None
        files = [responses_export(study=study, fmt=fmt, **flags) for study in studies]
        if len(files) == 1:
            content, content_type, filename = files[0]
            response = HttpResponse(content, content_type=content_type)
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for content, _, name in files:
                    archive.writestr(name, content)
            response, filename = HttpResponse(buffer.getvalue(), content_type="application/zip"), f"responses-{fmt}.zip"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    action.__name__ = (f"export_{fmt}_all_participants" if everyone else f"export_{fmt}") + (
        "_identified" if identified else "")
    action.short_description = description
    return action


EXPORT_ACTIONS = [
    _export_action("long", "Export responses: long CSV"),
    _export_action("wide", "Export responses: wide CSV"),
    _export_action("long", "Export responses with Prolific/MTurk ids (owner's file, not to share): long CSV",
                   identified=True),
    _export_action("wide", "Export responses with Prolific/MTurk ids (owner's file, not to share): wide CSV",
                   identified=True),
    _export_action("json", "Export responses: JSON with codebook"),
    _export_action("codebook", "Export codebook (JSON)"),
    _export_action("long", "Export responses: long CSV, all participants (unfinished and simulated too)",
                   everyone=True),
    _export_action("json", "Export responses: JSON, all participants (unfinished and simulated too)",
                   everyone=True),
]


@admin.register(StudyExport)
class StudyExportAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "status", "owner", "created_at"]
    actions = EXPORT_ACTIONS
    search_fields = ["slug", "title"]

    def get_queryset(self, request):
        return _owned(request, super().get_queryset(request))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.is_staff


@admin.register(Analysis)
class AnalysisAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "created_at", "created_by", "short_hash"]
    list_filter = ["study"]
    readonly_fields = ["study", "parameters", "data_hash", "results", "created_at", "created_by"]

    @admin.display(description="data sha256")
    def short_hash(self, obj):
        return obj.data_hash[:12]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("study", "created_by")
        return queryset if request.user.is_superuser else queryset.filter(study__owner=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Hypothesis)
class HypothesisAdmin(admin.ModelAdmin):
    list_display = ["study", "key", "kind", "description"]
    list_filter = ["kind"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("study")
        return queryset if request.user.is_superuser else queryset.filter(study__owner=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "study":
            kwargs["queryset"] = _owned(request, Study.objects.filter(status=Study.Status.DRAFT))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _editable(self, obj):
        return obj is None or obj.study.status == Study.Status.DRAFT

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._editable(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._editable(obj)
