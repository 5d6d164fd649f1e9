"""Counts for the home page; each app adds its own as it grows."""

from django.apps import apps


def dashboard_counts(*, user) -> list[dict]:
    """Headline numbers with links, skipping apps whose tables are not there yet."""
    counts = []
    for label, model_path, live, url_name in [
        ("Sources", "mastering.Source", {}, "mastering:source-list"),
        ("Source records", "mastering.SourceRecord", {"retired": False}, "mastering:source-list"),
        ("Entity types", "mastering.EntityType", {}, "mastering:entity-type-list"),
        ("Entities", "mastering.Entity", {"retired_at__isnull": True}, "mastering:entity-type-list"),
        ("Labels", "curation.Label", {"revoked_at__isnull": True}, "curation:home"),
    ]:
        try:
            model = apps.get_model(model_path)
        except LookupError:
            continue
        counts.append({"label": label, "value": model.objects.filter(**live).count(), "url_name": url_name})
    return counts
