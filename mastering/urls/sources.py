from django.urls import path

from mastering.views import sources

app_name = "mastering"
urlpatterns = [
    path("", sources.source_list, name="source-list"),
    path("<slug:slug>/", sources.source_detail, name="source-detail"),
    path("<slug:slug>/upload/", sources.upload, name="source-upload"),
    path("<slug:slug>/upload/<str:token>/", sources.upload_confirm, name="source-upload-confirm"),
    path("<slug:slug>/batches/<int:batch_id>/", sources.batch_detail, name="batch-detail"),
    path("<slug:slug>/records/<path:key>/", sources.record_detail, name="record-detail"),
]
