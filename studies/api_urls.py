from rest_framework.routers import SimpleRouter

from . import api

app_name = "studies_api"

router = SimpleRouter()
router.register("studies", api.StudyViewSet, basename="study")
router.register("conditions", api.ConditionViewSet, basename="condition")
router.register("items", api.ItemViewSet, basename="item")
urlpatterns = router.urls
