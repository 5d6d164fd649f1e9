"""Pairs of records that must never be joined ("not a match"), as apps above mastering know them.

Curation owns labels (a curator's "not a match", the labels cluster edits and issue resolutions leave); mastering
must not import it, so curation registers a provider here when it loads and streaming asks every provider.
"""

from collections.abc import Callable

from mastering.models import EntityType

# (entity type, record id) → ids of records marked not a match with it.
ApartProvider = Callable[[EntityType, int], set[int]]

_PROVIDERS: dict[str, ApartProvider] = {}


def register_apart_provider(name: str, provider: ApartProvider) -> None:
    """Have `provider` consulted before a streamed record joins an entity (registering a name again replaces it)."""
    _PROVIDERS[name] = provider


def records_apart_from(*, entity_type: EntityType, record_id: int) -> frozenset[int]:
    """Every record some decision says is not the same thing as this one."""
    found: set[int] = set()
    for provider in _PROVIDERS.values():
        found |= provider(entity_type, record_id)
    return frozenset(found)
