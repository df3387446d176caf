"""Researcher API for checkpoints and stimulus grids. Every queryset is filtered by owner."""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from explainers.models import Checkpoint, StimulusGrid
from explainers.serializers import (
    CheckpointSerializer,
    GridProgressSerializer,
    StimulusGridDetailSerializer,
    StimulusGridSerializer,
)


def grids_visible_to(user):
    """A researcher sees their own grids; superusers see all."""
    queryset = StimulusGrid.objects.select_related("checkpoint")
    return queryset if user.is_superuser else queryset.filter(owner=user)


def checkpoints_visible_to(user):
    """Own checkpoints plus shared (ownerless) ones; superusers see all."""
    return Checkpoint.objects.all() if user.is_superuser else Checkpoint.objects.filter(
        Q(owner=user) | Q(owner__isnull=True))


class CheckpointViewSet(viewsets.ReadOnlyModelViewSet):
    """Trained checkpoints a grid can be built from."""

    serializer_class = CheckpointSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no signed-in user
            return Checkpoint.objects.none()
        return checkpoints_visible_to(self.request.user).order_by("-created_at")


class StimulusGridViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                          mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Stimulus grids: creating one validates it and enqueues its pregeneration; poll `progress`."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no signed-in user
            return StimulusGrid.objects.none()
        queryset = grids_visible_to(self.request.user).order_by("-created_at")
        return queryset.prefetch_related("cells") if self.action == "retrieve" else queryset

    def get_serializer_class(self):
        return StimulusGridDetailSerializer if self.action == "retrieve" else StimulusGridSerializer

    def perform_destroy(self, instance: StimulusGrid) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise serializers.ValidationError(
                {"detail": "This grid is used by a study condition and cannot be deleted."}) from exc

    @extend_schema(responses=GridProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        """Status and 0-100 progress of the grid's pregeneration."""
        from explainers.services.grids import grid_progress

        return Response(grid_progress(grid=self.get_object()))

    @extend_schema(request=None, responses=GridProgressSerializer)
    @action(detail=True, methods=["post"])
    def regenerate(self, request, pk=None):
        """Enqueue a failed grid again."""
        from explainers.services.grids import grid_progress, grid_regenerate

        try:
            grid = grid_regenerate(grid=self.get_object())
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"detail": exc.messages}) from exc
        return Response(grid_progress(grid=grid), status=status.HTTP_202_ACCEPTED)
