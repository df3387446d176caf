from django.urls import path

from . import views

app_name = "studies"
urlpatterns = [
    path("s/<slug:slug>/", views.study_entry, name="entry"),
    path("s/<slug:slug>/p/<str:ptoken>/", views.participant_resume, name="resume"),
    path("s/<slug:slug>/p/<str:ptoken>/withdraw/", views.participant_withdraw, {"page": "withdraw"},
         name="withdraw"),
    path("s/<slug:slug>/p/<str:ptoken>/<slug:page>/", views.participant_page, name="page"),
    path("s/<slug:slug>/p/<str:ptoken>/<slug:page>/save/", views.participant_save, name="save"),
]
