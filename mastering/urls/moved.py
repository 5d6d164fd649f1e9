"""Entity pages that used to live under /curation/ (before issue 13 gave entities one app): the old addresses keep
working. Pages redirect for good; the edit form's old address still takes the post (a redirect would drop it)."""

from django.urls import path
from django.views.generic import RedirectView

from mastering.views import entity_review


def moved_to(pattern_name: str):
    return RedirectView.as_view(pattern_name=pattern_name, permanent=True, query_string=True, http_method_names=["get", "head"])


urlpatterns = [
    path("<slug:slug>/entities/<uuid:entity_id>/edit/", entity_review.entity_edit),
    path("<slug:slug>/entities/<uuid:entity_id>/history/", moved_to("mastering:entity-history")),
    path("<slug:slug>/entity-search/", moved_to("mastering:entity-search")),
    path("<slug:slug>/changes/", moved_to("mastering:run-changes")),
]
