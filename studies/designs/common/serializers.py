"""Serializer pieces of the design apps: relations limited to the researcher's own studies, service calls whose
validation errors become API errors (400 with the field's message)."""
from __future__ import annotations

from typing import Any, Callable, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from studies import selectors
from studies.serializers import as_drf_error


class OwnStudyField(serializers.SlugRelatedField):
    """A study of the requesting researcher, by slug."""

    def get_queryset(self):
        return selectors.study_list_for_user(user=self.context["request"].user)


class OwnStudyObjectField(serializers.PrimaryKeyRelatedField):
    """An object of ``model`` (which has a ``study``) in one of the requesting researcher's studies, by id."""

    model: ClassVar[type]

    def get_queryset(self):
        own = selectors.study_list_for_user(user=self.context["request"].user)
        return self.model.objects.filter(study__in=own)


def service_saved(call: Callable[..., Any], **kwargs: Any) -> Any:
    """``call(**kwargs)`` (a service that validates and saves), its ValidationError as the API's 400."""
    try:
        return call(**kwargs)
    except DjangoValidationError as error:
        raise as_drf_error(error) from error
