from django.urls import path

from curation import views, views_review

app_name = "curation"
urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:slug>/queue/", views.queue, name="queue"),
    path("<slug:slug>/labels/", views.label_list, name="label-list"),
    path("<slug:slug>/labels/<int:label_id>/revoke/", views.revoke_label, name="label-revoke"),
    path("<slug:slug>/disputes/", views.disputes, name="disputes"),
    path("<slug:slug>/review/<slug:name>/", views_review.review_list, name="review"),
    path("<slug:slug>/rules/", views_review.rules, name="rules"),
    path("<slug:slug>/diagnostics/", views_review.diagnostics, name="diagnostics"),
]
