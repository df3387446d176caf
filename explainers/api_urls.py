from rest_framework.routers import DefaultRouter

from explainers.api_views import CheckpointViewSet, StimulusGridViewSet

app_name = "explainers_api"

router = DefaultRouter()
router.include_root_view = False
router.register("checkpoints", CheckpointViewSet, basename="checkpoint")
router.register("grids", StimulusGridViewSet, basename="grid")
urlpatterns = router.urls
