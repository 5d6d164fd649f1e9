"""Survivorship rules and the match threshold: changing either recomputes the golden records it decides,
whoever changes it and wherever (rules page, API, Django admin)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.rules import ensure_allowed
from lineage.models import Activity
from lineage.services import record_activity
from mastering.models import Attribute, Entity, EntityType, Job
from mastering.services import golden
from mastering.services.jobs import JobAlreadyRunning, start_job
from steward.errors import InvalidInput

PREVIEW_EXAMPLES = 10


def ensure_may_change_golden_rules(*, user: AbstractBaseUser | None, entity_type: EntityType) -> None:
    """Refuse users whose role may not change survivorship rules or the match threshold."""
    ensure_allowed(user, "mastering.change_golden_rules", entity_type,
                   message="Your role does not allow changing survivorship rules or the match threshold.")


def check_rule(rule: str) -> str:
    """The rule, when it is a survivorship rule Steward knows."""
    if rule not in Attribute.Rule.values:
        raise InvalidInput(f"Unknown rule {rule!r}.")
    return rule


def check_threshold(threshold: float | None) -> float | None:
    """The threshold, when it is blank (the model's own) or strictly between 0 and 1."""
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise InvalidInput("The threshold must be between 0 and 1.")
    return threshold


def preview_rule_change(*, entity_type: EntityType, attribute: Attribute, rule: str) -> dict:
    """How many golden values a new survivorship rule would change, with examples before and after."""
    check_rule(rule)
    ids = list(Entity.objects.live().filter(entity_type=entity_type).values_list("pk", flat=True))
    current = dict(Entity.objects.filter(pk__in=ids).values_list("pk", "golden"))
    proposed = golden.compute_golden(entity_type, ids, rules=golden.rules_of(entity_type, changed={attribute.name: rule}))
    changed = []
    for entity_id in ids:
        before = current[entity_id].get(attribute.name)
        after = proposed[str(entity_id)][0].get(attribute.name)
        if before != after:
            changed.append({"entity": str(entity_id), "before": before, "after": after})
    return {"attribute": attribute.name, "rule": rule, "current_rule": attribute.survivorship, "entities": len(ids),
            "would_change": len(changed), "examples": changed[:PREVIEW_EXAMPLES]}


def record_rule_change(*, attribute: Attribute, previous: str, user: AbstractBaseUser | None) -> None:
    """Write the Activity of an attribute whose survivorship rule was just changed."""
    rule = attribute.survivorship
    record_activity(kind=Activity.Kind.CONFIGURE, actor=user, summary=f"{attribute}: survivorship {previous} → {rule}",
                    outputs=[attribute.entity_type], parameters={"attribute": attribute.name, "from": previous, "to": rule})


def recompute_golden_records(*, entity_type: EntityType, user: AbstractBaseUser | None, parameters: dict) -> Job:
    """Queue the job that recomputes every golden record of the type under its current rules."""
    return start_job(entity_type=entity_type, kind=Job.Kind.GOLDEN, user=user, parameters=parameters)


def mark_configuration_changed(*, entity_type_id: int) -> None:
    """Stamp the entity type as changed, so every process reloads its cached projection and active model."""
    EntityType.objects.filter(pk=entity_type_id).update(updated_at=timezone.now())


@transaction.atomic
def change_rule(*, attribute: Attribute, rule: str, user: AbstractBaseUser) -> Job:
    """Switch an attribute's survivorship rule and recompute every golden record in a job."""
    ensure_may_change_golden_rules(user=user, entity_type=attribute.entity_type)
    previous = attribute.survivorship
    attribute.survivorship = check_rule(rule)
    Attribute.objects.filter(pk=attribute.pk).update(survivorship=rule)
    mark_configuration_changed(entity_type_id=attribute.entity_type_id)  # other processes' cached projections reload
    record_rule_change(attribute=attribute, previous=previous, user=user)
    return recompute_golden_records(entity_type=attribute.entity_type, user=user,
                                    parameters={"attribute": attribute.name, "rule": rule})


def threshold_text(threshold: float | None) -> str:
    return "the model's own" if threshold is None else f"{threshold:g}"


def record_threshold_change(*, entity_type: EntityType, previous: float | None, user: AbstractBaseUser | None) -> None:
    """Write the Activity of an entity type whose match threshold was just changed."""
    threshold = entity_type.match_threshold
    record_activity(kind=Activity.Kind.CONFIGURE, actor=user,
                    summary=f"{entity_type.name}: threshold {threshold_text(previous)} → {threshold_text(threshold)}",
                    outputs=[entity_type], parameters={"from": previous, "to": threshold})


def has_entities(entity_type: EntityType) -> bool:
    return Entity.objects.live().filter(entity_type=entity_type).exists()


def recluster(*, entity_type: EntityType, user: AbstractBaseUser | None) -> Job | None:
    """Queue a mastering run so existing entities follow a new threshold; None when there is nothing to re-cluster."""
    if entity_type.active_model is None or not has_entities(entity_type):
        return None  # the first run will cluster at it
    try:
        return start_job(entity_type=entity_type, kind=Job.Kind.MASTER, user=user, parameters={"reason": "threshold changed"})
    except JobAlreadyRunning as running:
        # A live run reads the threshold when it clusters, at its last stage: it is the run that follows it.
        return running.job


@transaction.atomic
def set_threshold(*, entity_type: EntityType, threshold: float | None, user: AbstractBaseUser) -> EntityType:
    """Set the match threshold runs cluster at (None goes back to the model's own) and re-cluster at it."""
    ensure_may_change_golden_rules(user=user, entity_type=entity_type)
    previous = entity_type.match_threshold
    EntityType.objects.filter(pk=entity_type.pk).update(match_threshold=check_threshold(threshold))
    entity_type.refresh_from_db()
    record_threshold_change(entity_type=entity_type, previous=previous, user=user)
    if threshold != previous:
        recluster(entity_type=entity_type, user=user)
    return entity_type
