from django.urls import path

from curation.api import curate, views

urlpatterns = [
    path("entity-types/<slug:slug>/queue/next/", views.QueueNextView.as_view(), name="queue-next"),
    path("entity-types/<slug:slug>/queue/undo/", views.QueueUndoView.as_view(), name="queue-undo"),
    path("entity-types/<slug:slug>/labels/", views.LabelListView.as_view(), name="entity-type-labels"),
    path("entity-types/<slug:slug>/match/feedback/", views.MatchFeedbackView.as_view(), name="match-feedback"),
    path("entity-types/<slug:slug>/disputes/", views.DisputedPairsView.as_view(), name="entity-type-disputes"),
    path("entity-types/<slug:slug>/attributes/<str:attribute>/rule/", curate.RuleView.as_view(), name="attribute-rule"),
    path("entity-types/<slug:slug>/diagnostics/", curate.DiagnosticsView.as_view(), name="entity-type-diagnostics"),
]
