"""Issue metrics for stewards: what is open, how fast issues move, which sources hurt most, the weekly trend.

One builder for the page and the API. Durations are medians over the issues that reached the step (their count
is given beside each), so a figure from two issues says so.
"""

import datetime as dt
from statistics import median

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from feedback.models import DataIssue
from feedback.selectors import list_issues
from mastering.models import Source, SourceRecord

WEEKS = 8


def _counts(issues, field: str, choices) -> list[dict]:
    found = dict(issues.order_by().values_list(field).annotate(n=Count("id")))
    # The value as text, as the list's filter takes it (?priority=3).
    return [{"value": str(value), "label": str(label), "count": found.get(value, 0)} for value, label in choices]


def _median_seconds(pairs) -> dict:
    spans = [(end - start).total_seconds() for start, end in pairs if start and end and end >= start]
    return {"median_seconds": round(median(spans)) if spans else None, "issues": len(spans)}


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def issue_metrics(*, viewer: AbstractBaseUser, today: dt.date | None = None) -> dict:
    """Open issues by kind, status and priority; medians to acknowledge and resolve; overdue; per source; weekly trend."""
    today = today or timezone.localdate()
    issues = list_issues(viewer=viewer).select_related(None).prefetch_related(None)
    open_issues = issues.open()
    # An issue is on a source when it names the source or one of its records (an entity issue has no single source).
    with_source = issues.annotate(on_source=Coalesce("source_id", "record__source_id"))
    per_source = {row["on_source"]: row for row in with_source.exclude(on_source=None).order_by().values("on_source").annotate(
        total=Count("id"), open=Count("id", filter=Q(status__in=DataIssue.OPEN_STATUSES)))}
    records = dict(SourceRecord.objects.filter(retired=False, source_id__in=list(per_source)).order_by()
                   .values_list("source_id").annotate(n=Count("id")))
    sources = []
    for source in Source.objects.filter(pk__in=list(per_source)):
        row, count = per_source[source.pk], records.get(source.pk, 0)
        sources.append({"source": source.slug, "name": source.name, "issues": row["total"], "open": row["open"],
                        "records": count, "per_1000_records": round(row["total"] * 1000 / count, 2) if count else None})
    sources.sort(key=lambda s: (-(s["per_1000_records"] or 0), -s["issues"], s["name"]))
    first_week = _week_start(today) - dt.timedelta(weeks=WEEKS - 1)
    since = timezone.make_aware(dt.datetime.combine(first_week, dt.time.min))
    weeks = {first_week + dt.timedelta(weeks=i): {"filed": 0, "resolved": 0} for i in range(WEEKS)}
    for created in issues.filter(created_at__gte=since).values_list("created_at", flat=True):
        weeks[_week_start(timezone.localdate(created))]["filed"] += 1
    for resolved in issues.filter(resolved_at__gte=since).values_list("resolved_at", flat=True):
        weeks[_week_start(timezone.localdate(resolved))]["resolved"] += 1
    return {
        "as_of": today.isoformat(),
        "total": issues.count(),
        "open": open_issues.count(),
        "overdue": open_issues.filter(due_date__lt=today).count(),
        "entity_issues_without_source": issues.filter(source__isnull=True, record__isnull=True).count(),
        "open_by_kind": _counts(open_issues, "kind", DataIssue.Kind.choices),
        "open_by_status": _counts(open_issues, "status", [(s, DataIssue.Status(s).label) for s in DataIssue.OPEN_STATUSES]),
        "open_by_priority": _counts(open_issues, "priority", DataIssue.Priority.choices),
        "time_to_acknowledge": _median_seconds(issues.filter(acknowledged_at__isnull=False).values_list("created_at", "acknowledged_at")),
        "time_to_resolve": _median_seconds(issues.filter(resolved_at__isnull=False).values_list("created_at", "resolved_at")),
        "sources": sources,
        "weeks": [{"week": week.isoformat(), **counts} for week, counts in weeks.items()],
    }


def duration_text(seconds: int | None) -> str:
    """A median as people read it: minutes, hours or days."""
    if seconds is None:
        return "no issue has got there yet"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


__all__ = ["duration_text", "issue_metrics"]
