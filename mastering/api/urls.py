from django.urls import path

from mastering.api.views import SourceBatchesView

urlpatterns = [
    path("sources/<slug:slug>/batches/", SourceBatchesView.as_view(), name="source-batches"),
]
