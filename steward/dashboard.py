"""Counts for the home page; each app adds its own as it grows."""

from django.apps import apps


def dashboard_counts(*, user) -> list[dict]:
    """Headline numbers with links, skipping apps whose tables are not there yet."""
    counts = []
    for label, model_path, url_name in [
        ("Sources", "mastering.Source", "mastering:source-list"),
        ("Source records", "mastering.SourceRecord", "mastering:source-list"),
        ("Entity types", "mastering.EntityType", "mastering:entity-type-list"),
        ("Entities", "mastering.Entity", "mastering:entity-type-list"),
        ("Labels", "curation.Label", "curation:home"),
        ("Open issues", "feedback.DataIssue", "feedback:issue-list"),
    ]:
        try:
            model = apps.get_model(model_path)
        except LookupError:
            continue
        manager = model.objects
        queryset = manager.open() if hasattr(manager, "open") else manager.all()
        counts.append({"label": label, "value": queryset.count(), "url_name": url_name})
    return counts
