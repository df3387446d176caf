from rest_framework.routers import DefaultRouter

from explainers.api_views import (
    CheckpointViewSet,
    DatasetViewSet,
    RegisteredModelViewSet,
    StimulusGridViewSet,
    StimulusSetViewSet,
)

app_name = "explainers_api"

router = DefaultRouter()
router.include_root_view = False
router.register("checkpoints", CheckpointViewSet, basename="checkpoint")
router.register("grids", StimulusGridViewSet, basename="grid")
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("models", RegisteredModelViewSet, basename="registered-model")
router.register("stimulus-sets", StimulusSetViewSet, basename="stimulus-set")
urlpatterns = router.urls
