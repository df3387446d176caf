from django.urls import path

from . import dashboard

app_name = "dashboard"
urlpatterns = [
    path("studies/", dashboard.study_index, name="index"),
    path("studies/<slug:slug>/dashboard/", dashboard.study_dashboard, name="study"),
    path("studies/<slug:slug>/dashboard/live.json", dashboard.study_dashboard_live, name="live"),
]
