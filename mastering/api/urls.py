from django.urls import path

from mastering.api import entities, provenance
from mastering.api.matching import MatchView
from mastering.api.views import SourceBatchesView

urlpatterns = [
    path("lineage/entity-types/<slug:slug>/entities/<uuid:pk>/", provenance.EntityLineageView.as_view(), name="lineage-entity"),
    path("lineage/entity-types/<slug:slug>/entities/<uuid:pk>/values/<str:attribute>/", provenance.ValueLineageView.as_view(),
         name="lineage-value"),
    path("lineage/entity-types/<slug:slug>/entities/<uuid:pk>/why/", provenance.WhyTogetherView.as_view(), name="lineage-why"),
    path("lineage/sources/<slug:slug>/records/<path:key>/", provenance.RecordLineageView.as_view(), name="lineage-record"),
    path("lineage/sources/<slug:slug>/batches/<int:batch_id>/", provenance.BatchLineageView.as_view(), name="lineage-batch"),
    path("lineage/jobs/<int:job_id>/", provenance.JobLineageView.as_view(), name="lineage-job"),
    path("sources/<slug:slug>/batches/", SourceBatchesView.as_view(), name="source-batches"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/overrides/", entities.OverrideView.as_view(), name="entity-overrides"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/history/", entities.HistoryView.as_view(), name="entity-history"),
    path("entity-types/<slug:slug>/entities/<uuid:pk>/<str:action>/", entities.EntityEditView.as_view(), name="entity-edit"),
    path("entity-types/<slug:slug>/match/", MatchView.as_view(), name="entity-type-match"),
    path("entity-types/<slug:slug>/changes/", entities.ChangesView.as_view(), name="entity-type-changes"),
    path("overrides/<int:override_id>/", entities.OverrideDetailView.as_view(), name="override-detail"),
]
