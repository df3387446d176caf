"""Pages of the explainers app: the JSON progress endpoint polled by the admin's progress bar."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from explainers.api_views import grids_visible_to


@require_GET
@login_required
def grid_progress_json(request: HttpRequest, pk: int) -> JsonResponse:
    """Status and 0-100 progress of one of the researcher's grids (404 for anybody else's)."""
    from explainers.services.grids import grid_progress

    grid = get_object_or_404(grids_visible_to(request.user), pk=pk)
    response = JsonResponse(grid_progress(grid=grid))
    response["Cache-Control"] = "no-store"
    return response
