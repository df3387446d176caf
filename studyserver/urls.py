from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from .views import api_docs, health, home

urlpatterns = [
    path("", home, name="home"),
    path("healthz/", health, name="health"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/", include("studies.api_urls")),
    path("api/", include("explainers.api_urls")),
    path("api/", include("stats.api_urls")),
    path("api/", include("studies.designs.annotation.api_urls")),
    path("api/", include("studies.designs.trials.api_urls")),
    path("", include("studies.urls")),
    path("", include("studies.dashboard_urls")),
    path("", include("explainers.urls")),
    path("", include("stats.urls")),
    path("", include("studies.designs.trials.urls")),
    # Media (stimulus images) are public by design: participants load them without an account. In
    # production put a CDN or the proxy in front of MEDIA_ROOT instead.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}),
]
