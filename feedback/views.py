"""Issue pages: the list, the report form, the issue with its timeline, and the forms that change it."""

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from feedback import forms, metrics, selectors, services
from feedback.filters import VIEWS, DataIssueFilter
from feedback.markdown import render_markdown
from feedback.models import DataIssue
from feedback.presenters import target_preview
from feedback.services.resolutions import ACTIONS_FOR_KIND
from steward.errors import InvalidInput, ServiceError
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


BOARD_LIMIT = 25  # cards per column; the list has the rest


def _issue(request: HttpRequest, issue_id: int) -> DataIssue:
    try:
        return selectors.get_issue(viewer=request.user, pk=issue_id)
    except DataIssue.DoesNotExist:
        raise Http404(f"No issue #{issue_id}.") from None


def _needs(request: HttpRequest, *capabilities: str) -> None:
    if not any(request.user.has_perm(f"accounts.{c}") for c in capabilities):
        raise PermissionDenied("Your role does not allow this.")


@login_required
def issue_list(request: HttpRequest) -> HttpResponse:
    """Issues with filters, saved views, sort and pagination."""
    filterset = DataIssueFilter(request.GET, queryset=selectors.list_issues(viewer=request.user), request=request)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    context = {"filter": filterset, "page_obj": page, "query": querystring_without_page(request), "views": VIEWS,
               "current_view": request.GET.get("view", ""), "filtered": any(v for k, v in request.GET.items() if k != "page")}
    template = "feedback/partials/_issue_table.html" if is_htmx(request) else "feedback/issue_list.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def issue_new(request: HttpRequest) -> HttpResponse:
    """Report a problem on what the linking page names; the target is shown before the reporter sends."""
    _needs(request, "file_issues")
    form = forms.IssueForm(request.POST if request.method == "POST" else None,
                           initial={**request.GET.dict(), "kind": request.GET.get("kind", DataIssue.Kind.WRONG_VALUE)})
    target_form = forms.TargetForm(request.POST if request.method == "POST" else request.GET)
    preview, problem = None, ""
    if target_form.is_valid():
        try:
            preview = target_preview(services.resolve_target(**target_form.target()))
        except InvalidInput as exc:
            problem = exc.message
    named = target_form.is_valid() and bool(target_form.target())
    if request.method == "POST" and form.is_valid() and not problem:
        try:
            issue = services.file_issue(reporter=request.user, target=form.target(), **form.issue_fields())
        except ServiceError as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(request, f"Issue #{issue.pk} filed. You will be notified as it moves.")
            return redirect(issue)
    # Naming a target that does not exist is bad input; opening the form without one is a way to learn how to file.
    return render(request, "feedback/issue_new.html", {"form": form, "preview": preview, "problem": problem, "named": named},
                  status=400 if problem and (named or request.method == "POST") else 200)


@login_required
def issue_detail(request: HttpRequest, issue_id: int) -> HttpResponse:
    """The issue: target preview, description, timeline with comments, and the forms the viewer may use."""
    issue = _issue(request, issue_id)
    preview = target_preview(issue)
    user = request.user
    events = list(selectors.timeline(issue=issue))
    for event in events:
        event.body_html = render_markdown(event.comment.body) if event.comment else ""
    return render(request, "feedback/issue_detail.html", {
        "issue": issue, "preview": preview, "events": events, "description_html": render_markdown(issue.description),
        "resolution_html": render_markdown(issue.resolution_note), "actions": selectors.list_actions(issue=issue),
        "watching": issue.watchers.filter(pk=user.pk).exists(),
        "next_statuses": [(s, DataIssue.Status(s).label) for s in sorted(services.TRANSITIONS[issue.status])
                          if user.has_perm(f"feedback.{services.TRANSITION_PERMISSION[s]}", issue)],
        "fitting_actions": [(a, DataIssue.Resolution(a).label) for a in [*sorted(ACTIONS_FOR_KIND.get(issue.kind, ())),
                                                                           DataIssue.Resolution.NO_ACTION]],
        "may_work": user.has_perm("feedback.work_issue", issue), "may_triage": user.has_perm("feedback.triage_issue", issue),
        "may_close": user.has_perm("feedback.close_issue", issue), "may_file": user.has_perm("feedback.file_issue"),
        "comment_form": forms.CommentForm(), "may_edit": user.has_perm("feedback.edit_issue", issue),
        "edit_form": forms.EditIssueForm.for_issue(issue),
    })


def _act(request: HttpRequest, issue_id: int, form: "forms.forms.Form", run: Callable[[DataIssue, dict], object],
         done: str) -> HttpResponse:
    """Validate the form, call the service, and come back to the issue saying what happened or why not."""
    issue = _issue(request, issue_id)
    if not form.is_valid():
        messages.warning(request, "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items()))
        return redirect(issue)
    try:
        run(issue, form)
    except services.NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except ServiceError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(issue)


@login_required
@require_POST
def issue_comment(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "file_issues")
    return _act(request, issue_id, forms.CommentForm(request.POST),
                lambda issue, form: services.comment_on_issue(issue=issue, author=request.user, **form.cleaned_data),
                "Comment added.")


@login_required
@require_POST
def issue_transition(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "file_issues")
    return _act(request, issue_id, forms.TransitionForm(request.POST),
                lambda issue, form: services.transition_issue(issue=issue, user=request.user, **form.cleaned_data),
                "Status changed.")


@login_required
@require_POST
def issue_assign(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "triage_issues")

    def assign(issue, form):
        name = form.cleaned_data["assignee"]
        assignee = services.find_user(name) if name else None
        services.assign_issue(issue=issue, user=request.user, assignee=assignee, version=form.cleaned_data["version"])

    return _act(request, issue_id, forms.AssignForm(request.POST), assign, "Assignee changed.")


@login_required
@require_POST
def issue_resolve(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "triage_issues", "curate")
    members = target_preview(_issue(request, issue_id))["members"]
    form = forms.ResolveForm(request.POST, record_choices=[(r.pk, str(r)) for r in members])
    return _act(request, issue_id, form,
                lambda issue, form: services.resolve_issue(issue=issue, user=request.user, **form.resolution()),
                "Issue resolved.")


@login_required
@require_POST
def issue_watch(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "file_issues")
    watching = request.POST.get("watching", "true") != "false"
    issue = _issue(request, issue_id)
    services.watch_issue(issue=issue, user=request.user, watching=watching)
    messages.success(request, "You are watching this issue." if watching else "You stopped watching this issue.")
    return redirect(issue)


@login_required
@require_http_methods(["GET", "POST"])
def notification_list(request: HttpRequest) -> HttpResponse:
    """The signed-in user's notifications; POST marks them all read."""
    if request.method == "POST":
        count = services.mark_notifications_read(user=request.user)
        messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
        return redirect("feedback:notification-list")
    page = Paginator(selectors.list_notifications(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "feedback/notification_list.html", {"page_obj": page, "query": ""})


@login_required
@require_POST
def issue_edit(request: HttpRequest, issue_id: int) -> HttpResponse:
    _needs(request, "file_issues")
    return _act(request, issue_id, forms.EditIssueForm(request.POST),
                lambda issue, form: services.edit_issue(issue=issue, user=request.user, **form.changes()),
                "Issue updated.")


@login_required
def issue_board(request: HttpRequest) -> HttpResponse:
    """Issues by status, one column each, filtered like the list (closed ones left out unless asked for)."""
    filterset = DataIssueFilter(request.GET, queryset=selectors.list_issues(viewer=request.user), request=request)
    shown = [s for s in DataIssue.Status if s != DataIssue.Status.CLOSED or "closed" in request.GET.getlist("status")]
    issues = filterset.qs.filter(status__in=shown).order_by("-priority", "created_at")[:BOARD_LIMIT * len(shown)]
    columns = {status: [] for status in shown}
    for issue in issues:
        if len(columns[issue.status]) < BOARD_LIMIT:
            columns[issue.status].append(issue)
    counts = dict(filterset.qs.order_by().values_list("status").annotate(n=Count("id")))
    return render(request, "feedback/issue_board.html", {
        "filter": filterset, "query": request.GET.urlencode(), "limit": BOARD_LIMIT,
        "columns": [{"status": s, "issues": columns[s], "count": counts.get(s.value, 0)} for s in shown]})


@login_required
def issue_metrics(request: HttpRequest) -> HttpResponse:
    """Stewards' figures: open issues by kind, status and priority; medians; overdue; sources; weekly trend."""
    _needs(request, "triage_issues")
    figures = metrics.issue_metrics(viewer=request.user)
    for name in ("open_by_kind", "open_by_status", "open_by_priority"):
        top = max([row["count"] for row in figures[name]] + [1])
        for row in figures[name]:
            row["max"] = top
    top_week = max([max(w["filed"], w["resolved"]) for w in figures["weeks"]] + [1])
    return render(request, "feedback/issue_metrics.html", {
        "m": figures, "top_week": top_week,
        "ack_text": metrics.duration_text(figures["time_to_acknowledge"]["median_seconds"]),
        "resolve_text": metrics.duration_text(figures["time_to_resolve"]["median_seconds"])})
