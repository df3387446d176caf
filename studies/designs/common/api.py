"""API bases of the design apps: querysets limited to the requesting researcher's studies, every object checked
again, so another researcher gets 404."""
from __future__ import annotations

from typing import ClassVar

from rest_framework import permissions

from studies import selectors
from studies.api import IsResearcher


class IsOwnStudyObject(permissions.BasePermission):
    """The object's study, reached along the view's ``study_path``, belongs to the user (or a superuser asks)."""

    def has_object_permission(self, request, view, obj) -> bool:
        study = obj
        for attribute in view.study_path.split("__"):
            study = getattr(study, attribute)
        return request.user.is_superuser or study.owner_id == request.user.pk


class OwnStudyObjectsMixin:
    """For a DRF viewset of ``model``: the researcher's objects, optionally of the study ``?study=<slug>``.

    Put it first among the bases so that its ``get_queryset`` and permissions apply.
    """

    permission_classes = [IsResearcher & IsOwnStudyObject]
    study_path: ClassVar[str] = "study"
    model: ClassVar[type]

    def get_queryset(self):
        own = selectors.study_list_for_user(user=self.request.user)
        objects = self.model.objects.filter(**{f"{self.study_path}__in": own})
        slug = self.request.query_params.get("study")
        return objects.filter(**{f"{self.study_path}__slug": slug}) if slug else objects
