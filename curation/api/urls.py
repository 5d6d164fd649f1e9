from django.urls import path

from curation.api import curate, views

urlpatterns = [
    path("entity-types/<slug:slug>/queue/next/", views.QueueNextView.as_view(), name="queue-next"),
    path("entity-types/<slug:slug>/queue/undo/", views.QueueUndoView.as_view(), name="queue-undo"),
    path("entity-types/<slug:slug>/labels/", views.LabelListView.as_view(), name="entity-type-labels"),
    path("entity-types/<slug:slug>/disputes/", views.DisputedPairsView.as_view(), name="entity-type-disputes"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/overrides/", curate.OverrideView.as_view(), name="entity-overrides"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/history/", curate.HistoryView.as_view(), name="entity-history"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/<str:action>/", curate.EntityEditView.as_view(), name="entity-edit"),
    path("entity-types/<slug:slug>/changes/", curate.ChangesView.as_view(), name="entity-type-changes"),
    path("entity-types/<slug:slug>/attributes/<str:attribute>/rule/", curate.RuleView.as_view(), name="attribute-rule"),
    path("entity-types/<slug:slug>/diagnostics/", curate.DiagnosticsView.as_view(), name="entity-type-diagnostics"),
    path("overrides/<int:override_id>/", curate.OverrideDetailView.as_view(), name="override-detail"),
]
