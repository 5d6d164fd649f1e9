from django.urls import path

from lineage import views

app_name = "lineage"
urlpatterns = [
    path("", views.activity_list, name="activity-list"),
    path("activities/<int:activity_id>/", views.activity_detail, name="activity-detail"),
]
