from django.urls import path

from explainers import views

app_name = "explainers"
urlpatterns = [
    path("grids/<int:pk>/progress.json", views.grid_progress_json, name="grid-progress"),
]
