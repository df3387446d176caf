from django.urls import path

from . import api

app_name = "stats_api"
urlpatterns = [
    path("studies/<slug:slug>/export/", api.ResponsesExportView.as_view(), name="export"),
    path("studies/<slug:slug>/responses/", api.ResponseRowsView.as_view(), name="responses"),
    path("studies/<slug:slug>/responses/csv/", api.ResponsesCsvView.as_view(), name="responses_csv"),
    path("studies/<slug:slug>/analyses/", api.AnalysisListView.as_view(), name="analyses"),
    path("studies/<slug:slug>/analyses/<int:pk>/", api.AnalysisDetailView.as_view(), name="analysis"),
    path("studies/<slug:slug>/hypotheses/", api.HypothesisListView.as_view(), name="hypotheses"),
    path("studies/<slug:slug>/hypotheses/<slug:key>/", api.HypothesisDetailView.as_view(), name="hypothesis"),
    path("studies/<slug:slug>/plan/", api.PlanView.as_view(), name="plan"),
    path("sample-size/", api.SampleSizeView.as_view(), name="sample_size"),
]
