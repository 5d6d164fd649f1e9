"""Django admin writes go through the services: Activity, follow-up jobs, and a refusal shown on the form."""

import pytest
from django.urls import reverse

from lineage.models import Activity
from mastering import services
from mastering.models import AttributeMapping, Entity, EntityType, Job, Membership, Source
from steward.errors import InvalidInput
from tests.admin_forms import form_data
from tests.factories import source_with_fields, trained_entity_type

pytestmark = pytest.mark.django_db


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity").get(record__key=key).entity


@pytest.fixture
def mastered(django_capture_on_commit_callbacks, engineer):
    entity_type, source = trained_entity_type(16)
    # p0 and its duplicate now disagree on the first name: the survivorship rule decides which one is golden.
    services.upsert_record(source=source, key="p0-dup", data={"id": "p0-dup", "first": "adaa", "last": "lovelace",
                                                              "city": "london"}, user=engineer)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    assert entity_of("p0") == entity_of("p0-dup")
    return entity_type, source


def test_changing_a_rule_and_the_threshold_in_admin_recomputes_golden_records(
        mastered, admin_user, client_for, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    client = client_for(admin_user)
    data = form_data(client.get(change_url(entity_type)))
    first = next(k.removesuffix("-name") for k, v in data.items() if k.startswith("attributes-") and k.endswith("-name") and v == "first")
    assert entity_of("p0").golden["first"] == "adaa"  # most_frequent breaks the tie towards the newer value
    data.update({f"{first}-survivorship": "min", "match_threshold": "0.7"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(change_url(entity_type), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entity_type.refresh_from_db()
    assert entity_type.match_threshold == 0.7 and entity_type.attributes.get(name="first").survivorship == "min"
    assert entity_of("p0").golden["first"] == "ada"
    golden_job = Job.objects.get(entity_type=entity_type, kind=Job.Kind.GOLDEN)
    rerun = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    assert (golden_job.status, golden_job.started_by) == (Job.Status.DONE, admin_user)
    assert (rerun.status, rerun.counts["threshold"]) == (Job.Status.DONE, 0.7)
    summaries = set(Activity.objects.filter(user=admin_user, kind=Activity.Kind.CONFIGURE).values_list("summary", flat=True))
    assert {"Person.first: survivorship most_frequent → min", "Person: threshold the model's own → 0.7",
            "Changed entity type Person"} <= summaries


def test_a_change_the_service_refuses_is_a_form_error_and_nothing_is_saved(mastered, admin_user, client_for):
    entity_type, _ = mastered
    client = client_for(admin_user)
    data = form_data(client.get(change_url(entity_type)))
    data.update({"match_threshold": "1", "retrain_every": "3"})
    response = client.post(change_url(entity_type), data)
    assert response.status_code == 200
    assert "The threshold must be between 0 and 1." in response.content.decode()
    entity_type.refresh_from_db()
    assert (entity_type.match_threshold, entity_type.retrain_every) == (None, 10)
    assert not Activity.objects.filter(user=admin_user).exists()


def test_an_attribute_a_source_feeds_cannot_be_deleted_in_admin(mastered, admin_user, client_for):
    entity_type, _ = mastered
    client = client_for(admin_user)
    data = form_data(client.get(change_url(entity_type)))
    city = next(k.removesuffix("-name") for k, v in data.items() if k.endswith("-name") and v == "city")
    data[f"{city}-DELETE"] = "on"
    response = client.post(change_url(entity_type), data)
    assert "Attributes a source still feeds cannot be removed: city." in response.content.decode()
    assert entity_type.attributes.filter(name="city").exists()


def test_adding_an_attribute_in_admin_recomputes_golden_records(mastered, admin_user, client_for,
                                                                django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    client = client_for(admin_user)
    data = form_data(client.get(change_url(entity_type)))
    data.update({"attributes-3-name": "nickname", "attributes-3-comparator": "String", "attributes-3-survivorship": "longest",
                 "attributes-3-position": "9", "attributes-3-has_missing": "on"})
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(change_url(entity_type), data).status_code == 302
    assert list(entity_type.attributes.values_list("name", flat=True)) == ["first", "last", "city", "nickname"]
    assert Job.objects.get(entity_type=entity_type, kind=Job.Kind.GOLDEN).status == Job.Status.DONE
    assert "nickname" in entity_of("p0").golden


def test_adding_an_entity_type_in_admin_goes_through_the_service(admin_user, client_for):
    client = client_for(admin_user)
    data = form_data(client.get(reverse("admin:mastering_entitytype_add")))
    data.update({"name": "Company", "slug": "company", "attributes-0-name": "name", "attributes-0-comparator": "String",
                 "attributes-0-survivorship": "most_frequent", "attributes-0-position": "0"})
    response = client.post(reverse("admin:mastering_entitytype_add"), data)
    assert response.status_code == 302
    company = EntityType.objects.get(slug="company")
    assert list(company.attributes.values_list("name", flat=True)) == ["name"]
    assert Activity.objects.get(user=admin_user).summary == "Created entity type Company"


def test_deleting_an_entity_type_in_admin_writes_its_activity(admin_user, client_for):
    entity_type = services.create_entity_type(name="Gadget", attributes=[{"name": "label"}], actor=None)
    response = client_for(admin_user).post(reverse("admin:mastering_entitytype_delete", args=[entity_type.pk]), {"post": "yes"})
    assert response.status_code == 302 and not EntityType.objects.filter(pk=entity_type.pk).exists()
    assert Activity.objects.get(user=admin_user).summary == "Deleted entity type Gadget"


def test_adding_a_source_in_admin_makes_its_key_required_and_writes_activity(admin_user, client_for):
    client = client_for(admin_user)
    data = form_data(client.get(reverse("admin:mastering_source_add")))
    data.update({"name": "Crm", "slug": "crm", "key_field": "code", "priority": "0", "ingest_mode": "batch",
                 "fields-0-name": "code", "fields-0-type": "string", "fields-0-position": "0",
                 "fields-1-name": "email", "fields-1-type": "string", "fields-1-position": "1", "fields-TOTAL_FORMS": "2"})
    assert client.post(reverse("admin:mastering_source_add"), data).status_code == 302
    source = Source.objects.get(slug="crm")
    assert list(source.fields.values_list("name", "required")) == [("code", True), ("email", False)]
    assert Activity.objects.get(user=admin_user).summary == "Created source Crm"


def test_a_source_added_in_admin_without_fields_starts_from_its_key(admin_user, client_for):
    client = client_for(admin_user)
    data = form_data(client.get(reverse("admin:mastering_source_add")))
    data.update({"name": "Erp", "slug": "erp", "key_field": "id", "priority": "0", "ingest_mode": "batch"})
    assert client.post(reverse("admin:mastering_source_add"), data).status_code == 302
    assert list(Source.objects.get(slug="erp").fields.values_list("name", "required")) == [("id", True)]


def test_changing_the_key_field_in_admin_makes_the_new_key_required(admin_user, client_for):
    source = source_with_fields("shop", key="id", id="string", sku="string")
    client = client_for(admin_user)
    data = form_data(client.get(change_url(source)))
    data["key_field"] = "sku"
    assert client.post(change_url(source), data).status_code == 302
    assert source.fields.get(name="sku").required
    assert Activity.objects.get(user=admin_user).summary == "Changed source Shop"


def test_a_key_field_that_is_not_a_field_is_refused_on_the_form(admin_user, client_for):
    source = source_with_fields("shop", key="id", id="string", sku="string")
    client = client_for(admin_user)
    data = form_data(client.get(change_url(source)))
    data["key_field"] = "nope"
    response = client.post(change_url(source), data)
    assert response.status_code == 200 and "The key field &#x27;nope&#x27; must be one of the source&#x27;s fields." in response.content.decode()
    source.refresh_from_db()
    assert source.key_field == "id"


def test_a_source_that_received_data_cannot_be_deleted_in_admin(mastered, admin_user, client_for):
    _, source = mastered
    response = client_for(admin_user).post(reverse("admin:mastering_source_delete", args=[source.pk]), {"post": "yes"})
    assert "Cannot delete source" in response.content.decode()  # its records protect it before the service is asked
    assert Source.objects.filter(pk=source.pk).exists()
    with pytest.raises(InvalidInput, match="has received data, which lineage points at; make it inactive instead"):
        services.delete_source(source=source, actor=admin_user)


def test_deleting_an_unused_source_in_admin_writes_its_activity(admin_user, client_for):
    source = source_with_fields("spare", key="id", id="string")
    response = client_for(admin_user).post(reverse("admin:mastering_source_delete", args=[source.pk]), {"post": "yes"})
    assert response.status_code == 302 and not Source.objects.filter(pk=source.pk).exists()
    assert Activity.objects.get(user=admin_user).summary == "Deleted source Spare"


def test_a_source_still_mapped_is_refused_with_a_message(admin_user, client_for):
    source = source_with_fields("feed", key="id", id="string", name="string")
    services.create_entity_type(name="Thing", attributes=[{"name": "name"}], actor=None,
                                mappings=[{"source": "feed", "field": "name", "attribute": "name"}])
    response = client_for(admin_user).post(reverse("admin:mastering_source_delete", args=[source.pk]), {"post": "yes"},
                                           follow=True)
    assert "Feed still feeds Thing. Remove its mappings first." in response.content.decode()
    assert Source.objects.filter(pk=source.pk).exists() and not Activity.objects.filter(user=admin_user).exists()


@pytest.fixture
def mapped():
    source = source_with_fields("feed", key="id", id="string", name="string", alias="string", town="string")
    thing = services.create_entity_type(name="Thing", attributes=[{"name": "name"}, {"name": "town"}], actor=None,
                                        mappings=[{"source": "feed", "field": "name", "attribute": "name"},
                                                  {"source": "feed", "field": "town", "attribute": "town"}])
    return thing, source


def test_adding_a_mapping_in_admin_keeps_the_others_and_writes_activity(mapped, admin_user, client_for):
    thing, source = mapped
    name = thing.attributes.get(name="name")
    response = client_for(admin_user).post(reverse("admin:mastering_attributemapping_add"), {
        "attribute": name.pk, "source": source.pk, "field": source.fields.get(name="alias").pk, "transforms": '["trim"]',
        "position": "1"})
    assert response.status_code == 302
    rows = AttributeMapping.objects.filter(attribute__entity_type=thing).order_by("attribute__position", "position")
    assert [(m.attribute.name, m.field.name, m.transforms) for m in rows] == [
        ("name", "name", []), ("name", "alias", ["trim"]), ("town", "town", [])]
    assert Activity.objects.get(user=admin_user).summary == "Mapped Feed into Thing"


def test_changing_and_deleting_a_mapping_in_admin_go_through_the_service(mapped, admin_user, client_for):
    thing, source = mapped
    client = client_for(admin_user)
    town = AttributeMapping.objects.get(field__name="town")
    data = form_data(client.get(change_url(town)))
    data["transforms"] = '["lowercase"]'
    assert client.post(change_url(town), data).status_code == 302
    assert AttributeMapping.objects.get(field__name="town").transforms == ["lowercase"]
    town = AttributeMapping.objects.get(field__name="town")
    assert client.post(reverse("admin:mastering_attributemapping_delete", args=[town.pk]), {"post": "yes"}).status_code == 302
    assert list(AttributeMapping.objects.values_list("field__name", flat=True)) == ["name"]
    assert Activity.objects.filter(user=admin_user, summary="Mapped Feed into Thing").count() == 2


def test_a_mapping_with_an_unknown_transform_or_another_sources_field_is_a_form_error(mapped, admin_user, client_for):
    thing, source = mapped
    other = source_with_fields("other", key="id", id="string", alias="string")
    client = client_for(admin_user)
    url = reverse("admin:mastering_attributemapping_add")
    name = thing.attributes.get(name="name")
    unknown = client.post(url, {"attribute": name.pk, "source": source.pk, "field": source.fields.get(name="alias").pk,
                                "transforms": '["shout"]', "position": "0"})
    assert "Unknown transform: shout" in unknown.content.decode()
    foreign = client.post(url, {"attribute": name.pk, "source": source.pk, "field": other.fields.get(name="alias").pk,
                                "transforms": "[]", "position": "0"})
    assert "alias is a field of Other, not of Feed." in foreign.content.decode()
    assert AttributeMapping.objects.count() == 2 and not Activity.objects.filter(user=admin_user).exists()


def test_cancelling_a_job_from_the_admin_list(admin_user, client_for):
    entity_type = services.create_entity_type(name="Gadget", attributes=[{"name": "label"}], actor=None)
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.MASTER)
    response = client_for(admin_user).post(reverse("admin:mastering_job_changelist"),
                                           {"action": "cancel_selected", "_selected_action": [job.pk]})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


@pytest.mark.parametrize("model", ["mastering.job", "mastering.matchmodel", "mastering.sourcerecord", "mastering.ingestbatch",
                                   "curation.candidatepair", "curation.label", "lineage.activity"])
def test_records_of_what_happened_cannot_be_deleted_in_admin(mastered, admin_user, client_for, model):
    from django.apps import apps

    row = apps.get_model(model).objects.order_by("pk").first()
    app_label, model_name = model.split(".")
    client = client_for(admin_user)
    assert client.get(reverse(f"admin:{app_label}_{model_name}_delete", args=[row.pk])).status_code == 403
    assert client.post(reverse(f"admin:{app_label}_{model_name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert apps.get_model(model).objects.filter(pk=row.pk).exists()


def test_renaming_an_attribute_in_admin_keeps_its_mappings_and_renames_golden_values(
        mastered, admin_user, client_for, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    client = client_for(admin_user)
    data = form_data(client.get(change_url(entity_type)))
    city = next(k.removesuffix("-name") for k, v in data.items() if k.endswith("-name") and v == "city")
    data[f"{city}-name"] = "town"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(change_url(entity_type), data).status_code == 302
    town = entity_type.attributes.get(name="town")
    assert list(town.mappings.values_list("field__name", flat=True)) == ["city"]
    golden = entity_of("p0").golden
    assert golden["town"] == "london" and "city" not in golden


def test_a_bulk_delete_the_service_refuses_deletes_none_and_says_why(admin_user, client_for):
    spare = source_with_fields("spare", key="id", id="string")
    feed = source_with_fields("feed", key="id", id="string", name="string")
    services.create_entity_type(name="Thing", attributes=[{"name": "name"}], actor=None,
                                mappings=[{"source": "feed", "field": "name", "attribute": "name"}])
    response = client_for(admin_user).post(reverse("admin:mastering_source_changelist"), {
        "action": "delete_selected", "_selected_action": [spare.pk, feed.pk], "post": "yes"}, follow=True)
    assert "Feed still feeds Thing. Remove its mappings first." in response.content.decode()
    assert Source.objects.filter(pk__in=[spare.pk, feed.pk]).count() == 2
    assert not Activity.objects.filter(user=admin_user).exists()
