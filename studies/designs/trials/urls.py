from django.urls import path

from . import views

app_name = "trials"

urlpatterns = [
    path("studies/<slug:slug>/trials/export.csv", views.trials_export, name="export"),
]
