from rest_framework.routers import SimpleRouter

from . import api

app_name = "annotation_api"

router = SimpleRouter()
router.register("annotation-settings", api.AnnotationSettingsViewSet, basename="annotation-settings")
router.register("annotation-tasks", api.AnnotationTaskViewSet, basename="annotation-task")
router.register("annotation-items", api.AnnotationItemViewSet, basename="annotation-item")
urlpatterns = router.urls
