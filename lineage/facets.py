"""Steward's own OpenLineage facets, typed like the client's generated ones.

Their JSON schema is static/lineage/openlineage/StewardFacets.json, served by the instance itself, so a
consumer (Marquez, say) can follow each facet's _schemaURL to it.
"""

from typing import ClassVar

import attr
from django.conf import settings
from openlineage.client.generated.base import JobFacet, RunFacet

SCHEMA_FILE = "lineage/openlineage/StewardFacets.json"


def facet_schema_url(name: str) -> str:
    return f"{settings.STEWARD_BASE_URL}/{settings.STATIC_URL.strip('/')}/{SCHEMA_FILE}#/$defs/{name}"


@attr.define
class StewardCountsRunFacet(RunFacet):
    """What a run counted (rows read, records created, entities written, pairs scored...), by name."""

    counts: dict[str, float] = attr.field(factory=dict)

    _additional_skip_redact: ClassVar[list[str]] = ["counts"]

    @staticmethod
    def _get_schema() -> str:
        return facet_schema_url("StewardCountsRunFacet")


@attr.define
class StewardMatchModelRunFacet(RunFacet):
    """The match model version a run trained or used, with its label counts and estimated quality."""

    entityType: str  # noqa: N815
    version: int
    labelCount: int | None = attr.field(default=None)  # noqa: N815
    precision: float | None = attr.field(default=None)
    recall: float | None = attr.field(default=None)
    threshold: float | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return facet_schema_url("StewardMatchModelRunFacet")


@attr.define
class StewardLabelsRunFacet(RunFacet):
    """The curator labels a training run learned from."""

    labelCount: int  # noqa: N815
    matchCount: int  # noqa: N815
    distinctCount: int  # noqa: N815
    labelIds: list[int] | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return facet_schema_url("StewardLabelsRunFacet")


@attr.define
class StewardJobFacet(JobFacet):
    """Which Steward job kind this is, and the entity type or source it works for."""

    kind: str
    entityType: str | None = attr.field(default=None)  # noqa: N815
    source: str | None = attr.field(default=None)
    stewardJobId: int | None = attr.field(default=None)  # noqa: N815

    @staticmethod
    def _get_schema() -> str:
        return facet_schema_url("StewardJobFacet")
