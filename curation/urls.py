from django.urls import path

from curation import views

app_name = "curation"
urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:slug>/queue/", views.queue, name="queue"),
    path("<slug:slug>/labels/", views.label_list, name="label-list"),
    path("<slug:slug>/disputes/", views.disputes, name="disputes"),
]
