from django.urls import path

from mastering.views import entities, entity_review, entity_types, jobs, provenance, sources

app_name = "mastering"
urlpatterns = [
    path("sources/", sources.source_list, name="source-list"),
    path("sources/<slug:slug>/", sources.source_detail, name="source-detail"),
    path("sources/<slug:slug>/upload/", sources.upload, name="source-upload"),
    path("sources/<slug:slug>/upload/<str:token>/", sources.upload_confirm, name="source-upload-confirm"),
    path("sources/<slug:slug>/batches/", sources.batch_list, name="batch-list"),
    path("sources/<slug:slug>/batches/<int:batch_id>/", sources.batch_detail, name="batch-detail"),
    path("sources/<slug:slug>/batches/<int:batch_id>/lineage/", provenance.batch_lineage, name="batch-lineage"),
    path("sources/<slug:slug>/batches/<int:batch_id>/resend/", sources.batch_resend, name="batch-resend"),
    path("sources/<slug:slug>/record-lineage/<path:key>/", provenance.record_lineage, name="record-lineage"),
    path("sources/<slug:slug>/records/<path:key>/", sources.record_detail, name="record-detail"),
    path("entities/", entity_types.entity_type_list, name="entity-type-list"),
    path("entities/<slug:slug>/", entities.entity_list, name="entity-list"),
    path("entities/<slug:slug>/model/", entity_types.entity_type_detail, name="entity-type-detail"),
    path("entities/<slug:slug>/jobs/", entity_types.start_job, name="entity-type-start-job"),
    path("entities/<slug:slug>/match/", entities.entity_match, name="entity-match"),
    path("entities/<slug:slug>/search/", entity_review.entity_search, name="entity-search"),
    path("entities/<slug:slug>/changes/", entity_review.run_changes, name="run-changes"),
    path("entities/<slug:slug>/<uuid:entity_id>/", entities.entity_detail, name="entity-detail"),
    path("entities/<slug:slug>/<uuid:entity_id>/edit/", entity_review.entity_edit, name="entity-edit"),
    path("entities/<slug:slug>/<uuid:entity_id>/history/", entity_review.entity_history, name="entity-history"),
    path("entities/<slug:slug>/<uuid:entity_id>/lineage/", provenance.entity_lineage, name="entity-lineage"),
    path("entities/<slug:slug>/<uuid:entity_id>/why/", provenance.entity_why_together, name="entity-why"),
    path("entities/<slug:slug>/<uuid:entity_id>/values/<str:attribute>/", provenance.value_provenance,
         name="value-provenance"),
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/<int:job_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("jobs/<int:job_id>/lineage/", provenance.job_lineage, name="job-lineage"),
]
