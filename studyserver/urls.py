from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from .media import media_file
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
]
if settings.SERVE_MEDIA:
    # Media (stimulus images) are public by design: participants load them without an account. In production
    # (SERVE_MEDIA off) the reverse proxy serves MEDIA_ROOT with the same cache headers.
    urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", media_file, name="media"))
