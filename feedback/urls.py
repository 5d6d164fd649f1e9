from django.urls import path

from feedback import views

app_name = "feedback"
urlpatterns = [
    path("", views.issue_list, name="issue-list"),
    path("new/", views.issue_new, name="issue-new"),
    path("board/", views.issue_board, name="issue-board"),
    path("metrics/", views.issue_metrics, name="issue-metrics"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("<int:issue_id>/", views.issue_detail, name="issue-detail"),
    path("<int:issue_id>/comment/", views.issue_comment, name="issue-comment"),
    path("<int:issue_id>/transition/", views.issue_transition, name="issue-transition"),
    path("<int:issue_id>/assign/", views.issue_assign, name="issue-assign"),
    path("<int:issue_id>/resolve/", views.issue_resolve, name="issue-resolve"),
    path("<int:issue_id>/watch/", views.issue_watch, name="issue-watch"),
    path("<int:issue_id>/edit/", views.issue_edit, name="issue-edit"),
]
