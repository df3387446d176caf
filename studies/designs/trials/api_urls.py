from rest_framework.routers import SimpleRouter

from . import api

app_name = "trials_api"

router = SimpleRouter()
router.register("trial-setups", api.TrialSetupViewSet, basename="trial-setup")
router.register("trial-methods", api.TrialMethodViewSet, basename="trial-method")
router.register("trial-pool-images", api.PoolImageViewSet, basename="trial-pool-image")
router.register("trial-explanations", api.ExplanationImageViewSet, basename="trial-explanation")
router.register("trials", api.TrialViewSet, basename="trial")
urlpatterns = router.urls
