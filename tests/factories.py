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
    last_seen_batch = factory.SelfAttribute("first_batch")
    changed_batch = factory.SelfAttribute("first_batch")
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)
