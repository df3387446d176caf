"""Researcher API for datasets, registered models, checkpoints, stimulus grids and stimulus sets.

Every queryset is filtered by owner (datasets, models and sets are never shared).
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from explainers.models import Checkpoint, Dataset, RegisteredModel, StimulusGrid
from explainers.serializers import (
    CheckpointSerializer,
    DatasetSerializer,
    GridProgressSerializer,
    RegisteredModelSerializer,
    StimulusGridDetailSerializer,
    StimulusGridSerializer,
    StimulusImageSerializer,
    StimulusSetSerializer,
    StimulusSetUploadSerializer,
    raise_as_drf,
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


def owned_by(queryset, user):
    """Rows of ``queryset`` the user owns (all rows for superusers)."""
    return queryset if user.is_superuser else queryset.filter(owner=user)


class OwnedViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                   mixins.DestroyModelMixin, viewsets.GenericViewSet):
    base_queryset = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no signed-in user
            return self.base_queryset.none()
        return owned_by(self.base_queryset, self.request.user).order_by("-created_at")

    def perform_destroy(self, instance) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise serializers.ValidationError(
                {"detail": f"This {instance._meta.verbose_name} is in use and cannot be deleted."}) from exc


class DatasetViewSet(OwnedViewSet):
    """Your datasets: upload a zip (multipart) or register the digits / Two4Two (JSON)."""

    base_queryset = Dataset.objects.all()
    serializer_class = DatasetSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def perform_destroy(self, instance: Dataset) -> None:
        from explainers.services.datasets import dataset_delete_files

        super().perform_destroy(instance)
        dataset_delete_files(instance)


class RegisteredModelViewSet(OwnedViewSet):
    """Your classifiers: upload a TorchScript or torch.export file (multipart); `evaluate` reports accuracy."""

    base_queryset = RegisteredModel.objects.select_related("dataset")
    serializer_class = RegisteredModelSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def perform_destroy(self, instance: RegisteredModel) -> None:
        from explainers.services.classifiers import model_delete_file

        super().perform_destroy(instance)
        model_delete_file(instance)

    @extend_schema(request=None, responses=RegisteredModelSerializer)
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        """Compute the accuracy on the dataset's held-out (test) split."""
        from explainers.services.classifiers import classifier_evaluate

        try:
            model = classifier_evaluate(model=self.get_object())
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        return Response(RegisteredModelSerializer(model, context={"request": request}).data)


class StimulusSetViewSet(OwnedViewSet):
    """Stimulus sets: one explanation per image of a registered model (JSON), or your own images (`upload`)."""

    base_queryset = StimulusGrid.objects.exclude(kind=StimulusGrid.Kind.GRID).select_related("model")
    serializer_class = StimulusSetSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=StimulusSetUploadSerializer, responses=StimulusSetSerializer)
    @action(detail=False, methods=["post"])
    def upload(self, request):
        """Publish a zip of stimulus images (optional metadata.csv) as a ready stimulus set."""
        from explainers.services.stimulus_sets import stimulus_set_upload

        form = StimulusSetUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            created = stimulus_set_upload(owner=request.user, source=form.validated_data["file"],
                                          name=form.validated_data["name"])
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        return Response(StimulusSetSerializer(created, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(responses=StimulusImageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def images(self, request, pk=None):
        """Every image of a ready set with its method, source index, label, prediction and metadata."""
        from explainers.services.stimulus_sets import stimulus_set_images

        try:
            images = stimulus_set_images(self.get_object())
        except DjangoValidationError as exc:
            raise_as_drf(exc)
        return Response(StimulusImageSerializer(images, many=True).data)

    @extend_schema(responses=GridProgressSerializer)
    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None):
        from explainers.services.grids import grid_progress

        return Response(grid_progress(grid=self.get_object()))
