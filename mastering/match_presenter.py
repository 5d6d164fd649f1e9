"""One presenter for a match result, rendered by the match API and the "Find a match" box alike."""

from mastering.models import SourceRecord
from mastering.services.matching import EntityCandidate, MatchResult


def present_match(result: MatchResult) -> dict:
    """Plain data of a match result: candidates best first, the decision, and what the lookup compared."""
    best = {c.best_record for c in result.candidates}
    names = {pk: (slug, key) for pk, slug, key in
             SourceRecord.objects.filter(pk__in=best).values_list("pk", "source__slug", "key")}
    decision = result.decision
    return {
        "entity_type": result.entity_type.slug,
        "model_version": result.model.version,
        "threshold": result.threshold,
        "values": result.values,
        "decision": None if decision is None else {
            "entity_id": str(decision.entity.pk), "score": decision.score,
            "url": decision.entity.get_absolute_url()},
        "candidates": [_candidate(c, names, matched=c is decision) for c in result.candidates],
        "lookup": {"blocks": result.lookup.blocks, "skipped_blocks": result.lookup.skipped_blocks,
                   "block_size_cap": result.lookup.cap, "records_found": len(result.lookup.records),
                   "entities_scored": len(result.ranked)},
    }


def _candidate(candidate: EntityCandidate, names: dict, *, matched: bool) -> dict:
    source, key = names.get(candidate.best_record, ("", ""))
    entity = candidate.entity
    return {
        "entity_id": str(entity.pk), "url": entity.get_absolute_url(), "golden": entity.golden, "size": entity.size,
        "pinned": entity.pinned, "score": candidate.score, "members_compared": candidate.compared, "matched": matched,
        "may_join": not candidate.blocked, "why_not": candidate.blocked,
        "closest_member": {"source": source, "key": key, "score": candidate.best_score},
        "explanation": candidate.explanation,
    }
