from django.urls import path

from . import views

app_name = "stats"
urlpatterns = [
    path("studies/<slug:slug>/analysis/", views.analysis_page, name="analysis"),
    path("studies/<slug:slug>/analysis/<int:pk>/", views.analysis_detail, name="analysis_detail"),
    path("studies/<slug:slug>/analysis/<int:pk>/download/<str:fmt>/", views.analysis_download,
         name="analysis_download"),
    path("studies/<slug:slug>/analysis/interim/", views.analysis_interim_look, name="analysis_interim"),
    path("studies/<slug:slug>/analysis/plan.<str:fmt>", views.plan_download, name="plan_download"),
    path("studies/<slug:slug>/sample-size/", views.sample_size_page, name="sample_size"),
]
