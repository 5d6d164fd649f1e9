"""A caller's confirm or reject of a proposed match, kept as labels for the next training."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from curation.models import CandidatePair, Label
from curation.services.labels import record_label
from lineage.models import Activity
from lineage.services import record_activity
from mastering.mapping import projection_for
from mastering.models import Entity, EntityType, Membership, SourceRecord
from steward.errors import InvalidInput, ServiceError

ANSWERS = {"confirm": Label.Answer.MATCH, "reject": Label.Answer.DISTINCT}
# The record is labelled against at most this many members of the entity (the lowest record ids).
MAX_MEMBERS_LABELLED = 20


class EntityRetired(ServiceError):
    pass


@transaction.atomic
def give_match_feedback(*, entity_type: EntityType, record: SourceRecord, entity: Entity, answer: str,
                        curator: AbstractBaseUser) -> list[Label]:
    """Label a stored record against the members of the entity it was matched to: confirm → match, reject → not a match."""
    if answer not in ANSWERS:
        raise InvalidInput(f"answer must be confirm or reject (got {answer!r}).")
    if entity.entity_type_id != entity_type.pk:
        raise InvalidInput(f"Entity {entity.pk} is not a {entity_type.name}.")
    if entity.retired_at is not None:
        raise EntityRetired(f"Entity {entity.pk} was retired; give feedback on the entity that took its records"
                            + (f" ({entity.retired_into_id})." if entity.retired_into_id else "."))
    if record.source_id not in projection_for(entity_type).source_ids:
        raise InvalidInput(f"The source {record.source.slug} is not mapped into {entity_type.name}.")
    members = list(Membership.objects.filter(entity=entity).exclude(record=record).order_by("record_id")
                   .select_related("record")[:MAX_MEMBERS_LABELLED])
    if not members:
        raise InvalidInput(f"Entity {entity.pk} has no other record to compare {record.source.slug}:{record.key} with.")
    labels = [record_label(entity_type=entity_type, a=record, b=m.record, answer=ANSWERS[answer], curator=curator,
                           origin=Label.Origin.MATCH_FEEDBACK, pair_origin=CandidatePair.Origin.MATCH_FEEDBACK,
                           origin_note=f"match feedback on entity {str(entity.pk)[:8]}") for m in members]
    record_activity(kind=Activity.Kind.LABEL, actor=curator,
                    summary=f"{record.source.slug}:{record.key} {answer}ed as entity {str(entity.pk)[:8]} "
                            f"({len(labels)} label{'s' if len(labels) != 1 else ''})",
                    parameters={"answer": answer, "origin": Label.Origin.MATCH_FEEDBACK},
                    inputs=[record, entity], outputs=labels)
    return labels
