import factory
from django.utils import timezone

from mastering.models import IngestBatch, Source, SourceField, SourceRecord


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"Source {n}")
    slug = factory.Sequence(lambda n: f"source-{n}")
    key_field = "id"


class SourceFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceField

    source = factory.SubFactory(SourceFactory)
    name = factory.Sequence(lambda n: f"field_{n}")
    type = SourceField.Type.STRING


def source_with_fields(slug: str = "people", key: str = "id", **types: str) -> Source:
    """A source whose fields are given as name=type (name*=... is not possible, so required is a suffix '!')."""
    source = SourceFactory(slug=slug, name=slug.title(), key_field=key)
    fields = {key: "string", **types} if key not in types else types
    for position, (name, kind) in enumerate(fields.items()):
        required = kind.endswith("!") or name == key
        SourceFieldFactory(source=source, name=name, type=kind.rstrip("!"), required=required, position=position)
    return source


class IngestBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestBatch

    source = factory.SubFactory(SourceFactory)
    channel = IngestBatch.Channel.API
    status = IngestBatch.Status.SUCCEEDED


class SourceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceRecord

    source = factory.SubFactory(SourceFactory)
    key = factory.Sequence(lambda n: f"k{n}")
    data = factory.LazyAttribute(lambda o: {"id": o.key})
    content_hash = "0" * 16
    first_batch = factory.SubFactory(IngestBatchFactory, source=factory.SelfAttribute("..source"))
    changed_batch = factory.SelfAttribute("first_batch")
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


def entity_type_with_records(n_people: int = 12, *, slug: str = "person", dup_every: int = 2, comparators=None, **options):
    """An entity type over one source of small person records, every `dup_every`-th person duplicated with a typo."""
    import io

    from mastering import services

    source = source_with_fields(f"{slug}-src", key="id", id="string", first="string", last="string", city="string")
    firsts = ["ada", "alan", "grace", "edsger", "barbara", "donald", "john", "margaret", "ken", "dennis", "tony", "frances",
              "niklaus", "leslie", "radia", "shafi", "judea", "silvio", "whitfield", "martin", "butler", "adi", "ivan", "robin"]
    lasts = ["lovelace", "turing", "hopper", "dijkstra", "liskov", "knuth", "backus", "hamilton", "thompson", "ritchie",
             "hoare", "allen", "wirth", "lamport", "perlman", "goldwasser", "pearl", "micali", "diffie", "hellman",
             "lampson", "shamir", "sutherland", "milner"]
    cities = ["london", "paris", "berlin", "madrid", "rome", "vienna", "oslo", "dublin"]
    rows = ["id,first,last,city"]
    for i in range(n_people):
        first, last, city = firsts[i % len(firsts)], lasts[(i * 7) % len(lasts)], cities[i % len(cities)]
        rows.append(f"p{i},{first},{last},{city}")
        if i % dup_every == 0:
            rows.append(f"p{i}-dup,{first[:-1] + 'x'},{last},{city}")
    services.receive_table(source=source, stream=io.BytesIO("\n".join(rows).encode()), file_name="people.csv",
                           user=None, channel="command", background=False)
    entity_type = services.create_entity_type(
        name=slug.title(), slug=slug, actor=None,
        attributes=[{"name": name, "comparator": (comparators or {}).get(name, default)}
                    for name, default in (("first", "String"), ("last", "String"), ("city", "ShortString"))],
        mappings=[{"source": source.slug, "field": f, "attribute": f, "transforms": ["trim", "lowercase"]} for f in ("first", "last", "city")],
        **options,
    )
    return entity_type, source


def truth_of(record) -> str:
    """The person a test record belongs to (its key without the -dup suffix)."""
    return record.key.removesuffix("-dup")


def make_pairs(entity_type, source, count: int):
    """Candidate pairs between consecutive records, without running the learner."""
    from curation.models import CandidatePair
    from mastering.models import SourceRecord

    records = list(SourceRecord.objects.filter(source=source).order_by("pk"))
    pairs = []
    for index in range(count):
        a, b = records[index % len(records)], records[(index + 1 + index // len(records)) % len(records)]
        left, right = sorted([a.pk, b.pk])
        pairs.append(CandidatePair.objects.create(entity_type=entity_type, left_id=left, right_id=right,
                                                  origin=CandidatePair.Origin.ACTIVE_LEARNING, priority=index,
                                                  answers_needed=entity_type.overlap))
    return pairs


def trained_entity_type(n_people: int = 16, **options):
    """An entity type with a model trained from labels that follow the truth."""
    from curation import services as curation_services
    from tests.conftest import make_user

    entity_type, source = entity_type_with_records(n_people, **options)
    labeller = make_user("trainer", "steward")
    rows = [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i}-dup"}, "answer": "match"}
            for i in range(0, n_people, 2)]
    rows += [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i + 1}"}, "answer": "distinct"}
             for i in range(0, n_people - 1, 2)]
    curation_services.import_labels(entity_type=entity_type, rows=rows, curator=labeller)
    curation_services.train_match_model(entity_type=entity_type)
    return entity_type, source


def api_world(user) -> dict[str, str]:
    """Something behind every API route, for route-wide checks: a mastered entity type with labels, a model,
    jobs, entities, an override and a pair `user` holds, and a source with a partly rejected batch.

    Returns the value for each path parameter, keyed by the collection it follows (`/pairs/{id}/` by "pairs"),
    or by its own name where it follows no collection (`{action}`)."""
    import io

    from django.test import TestCase

    from curation import services as curation_services
    from curation.models import Label
    from lineage.models import Activity
    from mastering import services
    from mastering.models import Attribute, IngestBatch, Job, Membership
    from mastering.services import entities as entity_services

    entity_type, source = trained_entity_type(16)
    with TestCase.captureOnCommitCallbacks(execute=True):  # tests run Celery eagerly
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    entity = Membership.objects.filter(entity_type=entity_type).select_related("entity").first().entity
    override = entity_services.override_value(entity=entity, attribute=Attribute.objects.get(entity_type=entity_type, name="city"),
                                              value="=cambridge", user=user, reason="moved")
    batch = services.receive_table(source=source, stream=io.BytesIO(b"id,first,last,city\nq1,ada,byron,london\n,no,key,\n"),
                                   file_name="partial.csv", user=user, channel=IngestBatch.Channel.API, partial=True,
                                   background=False)
    pair = curation_services.claim_next_pair(curator=user, entity_type=entity_type)
    label = Label.objects.filter(pair__entity_type=entity_type).latest("pk")
    issue, notification = issue_world(user, entity)
    return {
        "issues": str(issue.pk), "notifications": str(notification.pk),
        "entity-types": entity_type.slug, "sources": source.slug, "mappings": source.slug,
        "records": source.records.order_by("key").first().key,
        "pairs": str(pair.pk if pair else label.pair_id), "labels": str(label.pk), "batches": str(batch.pk),
        "jobs": str(job.pk), "activities": str(Activity.objects.latest("pk").pk), "entities": str(entity.pk),
        "attributes": "city", "values": "city", "overrides": str(override.pk), "action": "pin",
    }


def issue_world(user, entity):
    """An issue `user` filed on an entity's city, and a notification for them (another steward commented)."""
    from feedback import services as feedback_services
    from tests.conftest import make_user

    issue = feedback_services.file_issue(reporter=user, title="City is wrong", kind="wrong_value", expected_value="oslo",
                                         target={"entity": str(entity.pk), "attribute": "city"})
    feedback_services.comment_on_issue(issue=issue, author=make_user("world-steward", "steward"), body="Looking")
    return issue, user.issue_notifications.get()


def fill_path(path: str, world: dict[str, str]) -> str:
    """An API path template (`/api/pairs/{id}/answer/`) with the values `api_world` returned."""
    import re

    parts = path.split("/")
    for index, part in enumerate(parts):
        name = re.fullmatch(r"\{(\w+)\}", part)
        if name:
            parts[index] = world.get(parts[index - 1]) or world[name[1]]
    return "/".join(parts)
