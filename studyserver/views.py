from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from drf_spectacular.views import SpectacularSwaggerView


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability for load balancers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


#: The API's interactive docs, for signed-in researchers. Anonymous visitors are sent to the login page
#: (and back afterwards): the API's own 401 would leave a browser on a blank page.
api_docs = login_required(SpectacularSwaggerView.as_view(url_name="api-schema"))
