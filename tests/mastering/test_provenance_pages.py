"""Provenance pages and selectors: a golden value down to its file row, why each member is in its entity, why two
members are together, and the lineage of entities, records, batches and jobs, with no Python repr on any page."""

import html as html_lib
import io
import re

import pytest

from lineage.models import Activity
from mastering import services
from mastering.models import Attribute, Entity, Job, Membership, SourceRecord, SourceRecordVersion
from mastering.provenance.members import membership_reasons
from mastering.provenance.pairs import NotMembers, why_together
from mastering.provenance.values import value_provenance
from mastering.services import entities as entity_services
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db

REPR = re.compile(r"\{'|\['|\bNone\b")


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, source


def pair_entity(entity_type) -> Entity:
    return Entity.objects.filter(entity_type=entity_type, size__gt=1, retired_at__isnull=True).order_by("created_at", "pk").first()


def visible_text(html: str) -> str:
    """The page's text as a reader sees it: no tags, scripts or embedded JSON."""
    html = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", html))  # autoescape writes ' as &#x27;


def test_ingest_keeps_the_file_row_of_each_version(mastered):
    _, source = mastered
    record = SourceRecord.objects.get(source=source, key="p0")
    assert record.file_row == 2  # the header is row 1
    assert SourceRecord.objects.get(source=source, key="p0-dup").file_row == 3
    services.receive_table(source=source, stream=io.BytesIO(b"id,first,last,city\np5,x,y,z\np0,ada,lovelace,york\n"),
                           file_name="fix.csv", user=None, channel="command", background=False)
    record.refresh_from_db()
    assert (record.version, record.file_row, record.changed_batch.file_name) == (2, 3, "fix.csv")
    old = SourceRecordVersion.objects.get(record=record, version=1)
    assert old.file_row == 2 and old.batch.file_name == "people.csv"


def test_value_provenance_names_rule_record_version_batch_and_row(mastered):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    story = value_provenance(entity, "last")
    assert story.rule == "most_frequent" and story.origin is not None
    record = SourceRecord.objects.get(pk=entity.provenance["last"]["record"])
    assert story.origin.record == record and story.origin.version == record.version
    assert story.origin.file_row == record.file_row and story.origin.batch.file_name == "people.csv"
    assert story.value == entity.golden["last"]
    members = set(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))
    assert {r.record.pk for r in story.rivals} == members - {record.pk}
    assert all(r.why for r in story.rivals)


def test_value_provenance_of_an_override_names_who_why_and_issue(mastered, steward):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    attribute = Attribute.objects.get(entity_type=entity_type, name="city")
    entity_services.override_value(entity=entity, attribute=attribute, value="york", user=steward,
                                   reason="fixed for issue #7")
    entity.refresh_from_db()
    story = value_provenance(entity, "city")
    assert story.override is not None and story.override.user == steward
    assert story.issue_ids == [7] and story.value == "york"
    assert story.rule_choice is not None


def test_membership_reasons_say_run_model_and_partner_in_words(mastered):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    job = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    reasons = membership_reasons(entity, with_partners=True)
    members = list(Membership.objects.filter(entity=entity).select_related("record__source"))
    assert set(reasons) == {m.record_id for m in members}
    for m in members:
        text = reasons[m.record_id].text
        assert f"in run #{job.pk} (model v{job.model.version})" in text
        other = next(o for o in members if o.record_id != m.record_id)
        assert f"matched record {other.record.source.slug}:{other.record.key} with score" in text


def test_membership_reason_of_a_moved_record_names_the_curator_and_reason(mastered, steward):
    entity_type, source = mastered
    entity = pair_entity(entity_type)
    target = Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).exclude(pk=entity.pk).first()
    record = Membership.objects.filter(entity=entity).first().record
    entity_services.move_record(entity=entity, record=record.pk, target=target, user=steward, reason="same person, see issue #3")
    reason = membership_reasons(target)[record.pk]
    assert reason.text == "moved here by sam-steward: same person, see issue #3"
    assert reason.issue_ids == [3]


def test_why_together_explains_score_contributions_and_path(mastered):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    a, b = sorted(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))[:2]
    together = why_together(entity, a, b)
    assert 0 <= together.score <= 1
    assert [c.attribute for c in together.contributions] == ["first", "last", "city"]
    assert len(together.path) == 1 and together.path[0].score == together.stored_score
    with pytest.raises(NotMembers):
        why_together(entity, a, a)
    outsider = SourceRecord.objects.exclude(pk__in=[a, b]).exclude(memberships__entity=entity).first()
    with pytest.raises(NotMembers):
        why_together(entity, a, outsider.pk)


def test_why_together_follows_a_chain_of_pairs_when_not_compared_directly(mastered):
    from mastering.models import ScoredPair
    from mastering.provenance.pairs import _bfs

    steps = _bfs(1, 3, {1: [(2, 0.9)], 2: [(1, 0.9), (3, 0.8)], 3: [(2, 0.8)]})
    assert steps == [(1, 2, 0.9), (2, 3, 0.8)]
    assert _bfs(1, 4, {1: [(2, 0.9)]}) == []
    assert ScoredPair.objects.exists()


def page_urls(entity_type, source) -> list[str]:
    entity = pair_entity(entity_type)
    record = SourceRecord.objects.filter(source=source).order_by("pk").first()
    job = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    base = f"/entities/{entity_type.slug}/{entity.pk}"
    # An activity with a list or mapping among its parameters: where a repr would show
    master_activity = next(a for a in Activity.objects.order_by("pk")
                           if any(isinstance(v, dict | list) and v for v in a.parameters.values()))
    a, b = sorted(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))[:2]
    return [
        f"{base}/", f"{base}/lineage/", f"{base}/lineage/?run={job.pk}", f"{base}/values/last/", f"{base}/why/",
        f"{base}/why/?a={a}&b={b}", f"/sources/{source.slug}/record-lineage/{record.key}/",
        f"/sources/{source.slug}/records/{record.key}/", f"/sources/{source.slug}/batches/{record.changed_batch_id}/lineage/",
        f"/jobs/{job.pk}/", f"/jobs/{job.pk}/lineage/", f"/jobs/{job.model.job_id}/" if job.model.job_id else f"/jobs/{job.pk}/",
        f"/entities/{entity_type.slug}/model/", f"/lineage/activities/{master_activity.pk}/", "/lineage/",
    ]


def test_every_provenance_page_renders_without_python_reprs(mastered, client_for, business_user):
    browser = client_for(business_user)
    for url in page_urls(*mastered):
        response = browser.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        assert not REPR.search(text), (url, REPR.search(text))


def test_value_page_links_down_to_the_file_row(mastered, client_for, business_user):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    record = SourceRecord.objects.get(pk=entity.provenance["last"]["record"])
    html = client_for(business_user).get(f"/entities/{entity_type.slug}/{entity.pk}/values/last/").content.decode()
    assert f"row {record.file_row}</a>" in html and "people.csv" in html
    assert f"/sources/{record.source.slug}/records/{record.key}/#version-{record.version}" in html


@pytest.mark.parametrize("url", ["/why/?a=x&b=1", "/why/?a=1&b=1", "/lineage/?run=abc", "/lineage/?run=999999"])
def test_bad_provenance_input_is_a_clear_400(url, mastered, client_for, business_user):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    response = client_for(business_user).get(f"/entities/{entity_type.slug}/{entity.pk}{url}")
    assert response.status_code == 400


def test_unknown_attribute_or_record_is_404(mastered, client_for, business_user):
    entity_type, source = mastered
    entity = pair_entity(entity_type)
    browser = client_for(business_user)
    assert browser.get(f"/entities/{entity_type.slug}/{entity.pk}/values/nope/").status_code == 404
    assert browser.get(f"/sources/{source.slug}/record-lineage/nope/").status_code == 404


def test_a_merged_id_leads_to_the_survivors_lineage(mastered, client_for, steward):
    entity_type, _ = mastered
    survivor, other = Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).order_by("pk")[:2]
    entity_services.merge_entities(survivor=survivor, others=[other], user=steward, reason="same")
    response = client_for(steward).get(f"/entities/{entity_type.slug}/{other.pk}/lineage/")
    assert response.status_code == 302 and str(survivor.pk) in response["Location"]
    page = client_for(steward).get(response["Location"]).content.decode()
    assert str(other.pk) in page  # the id history lists the merged id


def test_the_label_list_filters_to_the_labels_that_taught_a_model(mastered, client_for, business_user):
    entity_type, _ = mastered
    model = entity_type.active_model
    response = client_for(business_user).get(f"/curation/{entity_type.slug}/labels/?taught={model.version}")
    assert response.status_code == 200
    assert sorted(label.pk for label in response.context["page_obj"]) == sorted(model.label_ids)[:50]


def test_lineage_api_of_entity_value_pair_record_batch_and_job(mastered, api_for, business_user):
    entity_type, source = mastered
    entity = pair_entity(entity_type)
    api = api_for(business_user)
    base = f"/api/lineage/entity-types/{entity_type.slug}/entities/{entity.pk}/"
    body = api.get(base).json()
    members = set(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))
    assert {m["record_id"] for m in body["members"]} == members
    assert all("in run #" in m["text"] for m in body["members"])
    assert body["graph"]["focus"] == f"entity-{entity.pk}" and len(body["graph"]["nodes"]) > len(members)
    value = api.get(f"{base}values/last/").json()
    record = SourceRecord.objects.get(pk=entity.provenance["last"]["record"])
    assert (value["origin"]["key"], value["origin"]["file_row"], value["origin"]["file_name"]) == (record.key, record.file_row, "people.csv")
    a, b = sorted(members)[:2]
    together = api.get(f"{base}why/?a={a}&b={b}").json()
    assert together["score"] is not None and together["path"]
    job = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    assert api.get(f"{base}?run={job.pk}").json()["run"] == job.pk
    rec = api.get(f"/api/lineage/sources/{source.slug}/records/{record.key}/").json()
    assert rec["file_row"] == record.file_row and rec["memberships"][0]["entity_id"] == str(entity.pk)
    batch = api.get(f"/api/lineage/sources/{source.slug}/batches/{record.changed_batch_id}/").json()
    assert batch["records_now"] == SourceRecord.objects.filter(changed_batch_id=record.changed_batch_id).count()
    run = api.get(f"/api/lineage/jobs/{job.pk}/").json()
    assert run["model_version"] == job.model.version and f"model-{job.model.pk}" in {n["id"] for n in run["graph"]["nodes"]}


@pytest.mark.parametrize("suffix,status", [("why/?a=1", 400), ("why/?a=x&b=2", 400), ("?run=x", 400), ("?run=999999", 400),
                                           ("values/nope/", 404)])
def test_lineage_api_refuses_bad_input_clearly(suffix, status, mastered, api_for, business_user):
    entity_type, _ = mastered
    entity = pair_entity(entity_type)
    response = api_for(business_user).get(f"/api/lineage/entity-types/{entity_type.slug}/entities/{entity.pk}/{suffix}")
    assert response.status_code == status and response.json()["detail"]


def test_lineage_api_needs_a_signed_in_user_and_hides_unknown_objects(mastered, client, api_for, business_user):
    import uuid

    entity_type, source = mastered
    entity = pair_entity(entity_type)
    assert client.get(f"/api/lineage/entity-types/{entity_type.slug}/entities/{entity.pk}/").status_code in (401, 403)
    api = api_for(business_user)
    assert api.get(f"/api/lineage/entity-types/{entity_type.slug}/entities/{uuid.uuid4()}/").status_code == 404
    assert api.get(f"/api/lineage/entity-types/other/entities/{entity.pk}/").status_code == 404
    assert api.get(f"/api/lineage/sources/{source.slug}/records/nope/").status_code == 404
    assert api.get("/api/lineage/jobs/999999/").status_code == 404
