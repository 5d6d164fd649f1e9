"""Resolutions act through the curators' services, in one transaction, and teach the next model."""

import pytest

from curation import selectors as curation_selectors
from curation import services as curation_services
from curation.models import Label
from feedback import services
from feedback.models import DataIssue, IssueAction
from mastering.models import ClusterEdit, ValueOverride
from steward.errors import InvalidInput, ServiceError
from tests.feedback.conftest import entity_of, master, record

pytestmark = pytest.mark.django_db


def file(reporter, kind, **target) -> DataIssue:
    return services.file_issue(reporter=reporter, title=f"{kind} issue", kind=kind, target=target)


def test_wrongly_merged_resolved_by_split_teaches_distinct_labels_that_the_next_training_and_run_keep(
        mastered, business_user, steward, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    entity = entity_of("p0")
    issue = services.file_issue(reporter=business_user, title="Two people", kind=DataIssue.Kind.WRONGLY_MERGED,
                                target={"source": "person-src", "key": "p0", "other_source": "person-src", "other_key": "p0-dup"})
    issue = services.resolve_issue(issue=issue, user=steward, version=1, action="split", note="different birth dates")
    assert (issue.status, issue.resolution) == (DataIssue.Status.RESOLVED, DataIssue.Resolution.SPLIT)
    assert entity_of("p0") == entity and entity_of("p0-dup") != entity
    action = IssueAction.objects.get(issue=issue)
    assert action.edit.kind == ClusterEdit.Kind.SPLIT and f"issue #{issue.pk}" in action.edit.reason
    labels = list(action.labels.all())
    assert labels and {(lb.answer, lb.origin, lb.origin_note) for lb in labels} == {("distinct", "issue", f"issue #{issue.pk}")}
    pair = tuple(sorted([record("p0").pk, record("p0-dup").pk]))
    assert pair in {(lb.pair.left_id, lb.pair.right_id) for lb in labels}
    assert action.activity is not None and action.activity.links.filter(object_id=str(action.edit.pk)).exists()
    model = curation_services.train_match_model(entity_type=entity_type)
    assert {lb.pk for lb in labels} <= set(model.label_ids)
    answers = {lb.key: lb.match for lb in curation_selectors.training_labels(entity_type=entity_type)}
    assert answers[pair] is False
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p0-dup") != entity_of("p0")


def test_duplicate_resolved_by_merge_teaches_match_labels(mastered, business_user, steward):
    survivor, other = entity_of("p1"), entity_of("p3")
    issue = services.file_issue(reporter=business_user, title="Same", kind=DataIssue.Kind.DUPLICATE,
                                target={"source": "person-src", "key": "p1", "other_source": "person-src", "other_key": "p3"})
    services.resolve_issue(issue=issue, user=steward, version=1, action="merge")
    other.refresh_from_db()
    assert other.retired_into_id == survivor.pk and entity_of("p3") == survivor
    labels = IssueAction.objects.get(issue=issue).labels.all()
    assert labels and all(lb.answer == Label.Answer.MATCH and lb.origin_note == f"issue #{issue.pk}" for lb in labels)


def test_wrong_value_resolved_by_override_sets_the_expected_value(mastered, business_user, steward):
    entity = entity_of("p2")
    issue = services.file_issue(reporter=business_user, title="City", kind=DataIssue.Kind.WRONG_VALUE,
                                target={"entity": str(entity.pk), "attribute": "city"}, expected_value="Lisbon")
    services.resolve_issue(issue=issue, user=steward, version=1, action="override")
    entity.refresh_from_db()
    assert entity.golden["city"] == "Lisbon"
    assert IssueAction.objects.get(issue=issue).override == ValueOverride.objects.get(entity=entity, removed_at__isnull=True)


def test_a_resolution_that_does_not_fit_the_kind_is_refused_with_nothing_written(mastered, business_user, steward):
    issue = file(business_user, DataIssue.Kind.WRONG_VALUE, entity=str(entity_of("p0").pk), attribute="city")
    with pytest.raises(InvalidInput, match="not resolved by split; actions that fit: override"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="split", records=[record("p0-dup").pk])
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (DataIssue.Status.NEW, 1)
    assert not ClusterEdit.objects.exists() and not IssueAction.objects.exists()


def test_a_failing_action_leaves_the_issue_unresolved(mastered, business_user, steward):
    issue = file(business_user, DataIssue.Kind.WRONGLY_MERGED, entity=str(entity_of("p1").pk))
    with pytest.raises(ServiceError, match="Choose records that belong to this entity"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="split", records=[record("p0-dup").pk])
    issue.refresh_from_db()
    assert issue.status == DataIssue.Status.NEW and not Label.objects.filter(origin="issue").exists()


def test_a_curator_resolves_only_issues_routed_to_them(mastered, business_user, steward, curator, other_curator):
    issue = file(business_user, DataIssue.Kind.OTHER, source="person-src")
    with pytest.raises(services.NotAllowed):
        services.resolve_issue(issue=issue, user=curator, version=1)
    issue = services.assign_issue(issue=issue, user=steward, assignee=curator, version=1)
    with pytest.raises(services.NotAllowed):
        services.resolve_issue(issue=issue, user=other_curator, version=2)
    assert services.resolve_issue(issue=issue, user=curator, version=2).status == DataIssue.Status.RESOLVED


def test_labels_from_an_issue_show_their_origin_in_the_labels_api_and_page(mastered, business_user, steward, api_for,
                                                                          client_for):
    entity_type, _ = mastered
    issue = file(business_user, DataIssue.Kind.WRONGLY_MERGED, source="person-src", key="p0-dup")
    services.resolve_issue(issue=issue, user=steward, version=1, action="split")
    rows = api_for(steward).get(f"/api/entity-types/{entity_type.slug}/labels/?origin=issue").json()["results"]
    assert rows and {row["origin_note"] for row in rows} == {f"issue #{issue.pk}"}
    assert f"issue #{issue.pk}" in client_for(steward).get(f"/curation/{entity_type.slug}/labels/?origin=issue").content.decode()


@pytest.mark.parametrize("kind,action,keys", [
    (DataIssue.Kind.WRONGLY_MERGED, "split", ("p0", "p0-dup")),
    (DataIssue.Kind.DUPLICATE, "merge", ("p1", "p3")),
])
def test_a_resolutions_edit_writes_only_labels_of_the_issue_origin(mastered, business_user, steward, kind, action, keys):
    """The cluster-edit listener stays quiet for an issue's edit: no second set of labels marked 'cluster edit'."""
    before = set(Label.objects.values_list("pk", flat=True))
    issue = services.file_issue(reporter=business_user, title="t", kind=kind, target={
        "source": "person-src", "key": keys[0], "other_source": "person-src", "other_key": keys[1]})
    services.resolve_issue(issue=issue, user=steward, version=1, action=action)
    made = Label.objects.exclude(pk__in=before)
    assert made.exists()
    assert set(made.values_list("origin", "origin_note")) == {(Label.Origin.ISSUE, f"issue #{issue.pk}")}
    assert set(made.values_list("pk", flat=True)) == set(IssueAction.objects.get(issue=issue).labels.values_list("pk", flat=True))


def test_a_curators_own_edit_still_teaches_cluster_edit_labels(mastered, curator):
    from mastering.services import entities as entity_services

    before = set(Label.objects.values_list("pk", flat=True))
    entity_services.split_records(entity=entity_of("p0"), records=[record("p0-dup").pk], user=curator, reason="two people")
    assert set(Label.objects.exclude(pk__in=before).values_list("origin", flat=True)) == {Label.Origin.CLUSTER_EDIT}
