from django.urls import path

from . import dashboard, dashboard_actions, preview

app_name = "dashboard"
urlpatterns = [
    path("studies/", dashboard.study_index, name="index"),
    path("studies/<slug:slug>/dashboard/", dashboard.study_dashboard, name="study"),
    path("studies/<slug:slug>/dashboard/live.json", dashboard.study_dashboard_live, name="live"),
    path("studies/<slug:slug>/preview/<slug:condition>/<slug:page>/", preview.study_preview, name="preview"),
    path("studies/<slug:slug>/dashboard/launch/", dashboard_actions.study_launch, name="launch"),
    path("studies/<slug:slug>/dashboard/pause/", dashboard_actions.study_pause, name="pause"),
    path("studies/<slug:slug>/dashboard/duplicate/", dashboard_actions.study_duplicate, name="duplicate"),
    path("studies/<slug:slug>/dashboard/test-participants/delete/", dashboard_actions.test_participants_delete,
         name="delete_test_participants"),
    path("studies/<slug:slug>/dashboard/participants/<int:participant>/exclusion/",
         dashboard_actions.participant_exclusion, name="exclusion"),
]
