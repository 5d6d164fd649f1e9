from django.urls import path

from mastering.api import entities
from mastering.api.matching import MatchView
from mastering.api.views import SourceBatchesView

urlpatterns = [
    path("sources/<slug:slug>/batches/", SourceBatchesView.as_view(), name="source-batches"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/overrides/", entities.OverrideView.as_view(), name="entity-overrides"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/history/", entities.HistoryView.as_view(), name="entity-history"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/<str:action>/", entities.EntityEditView.as_view(), name="entity-edit"),
    path("entity-types/<slug:slug>/match/", MatchView.as_view(), name="entity-type-match"),
    path("entity-types/<slug:slug>/changes/", entities.ChangesView.as_view(), name="entity-type-changes"),
    path("overrides/<int:override_id>/", entities.OverrideDetailView.as_view(), name="override-detail"),
]
