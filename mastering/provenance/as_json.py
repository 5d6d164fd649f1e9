"""Provenance as plain JSON for the API: the same objects the pages show (values, reasons, graphs), without reprs."""

from mastering.provenance.lineage import Lineage
from mastering.provenance.members import Reason
from mastering.provenance.pairs import Together
from mastering.provenance.values import ValueProvenance


def _when(value) -> str | None:
    return value.isoformat() if value else None


def graph_json(lineage: Lineage) -> dict:
    return lineage.graph.as_json()


def activities_json(lineage: Lineage) -> dict:
    return {"counts": lineage.activity_counts,
            "latest": [{"id": a.pk, "kind": a.kind, "summary": a.summary, "user": a.user.username if a.user else None,
                        "started_at": _when(a.started_at)} for a in lineage.activities]}


def reason_json(record, reason: Reason) -> dict:
    partner = reason.partner
    return {"record_id": record.pk, "source": record.source.slug, "key": record.key, "reason": reason.kind, "text": reason.text,
            "job_id": reason.job_id, "model_version": reason.model_version, "score": reason.score, "by": reason.by,
            "why": reason.why, "issue_ids": reason.issue_ids,
            "partner": {"record_id": partner.record_id, "label": partner.label, "score": partner.score} if partner else None}


def entity_json(lineage: Lineage) -> dict:
    facts = lineage.facts
    entity = facts["entity"]
    past = facts["past"]
    members = facts["members"]  # at a run: those of today's members that were members then
    return {
        "entity_id": str(entity.pk), "entity_type": entity.entity_type.slug, "run": facts["run"],
        "golden": past.golden if past is not None else entity.golden,
        "members": [reason_json(row["membership"].record, row["reason"]) for row in members],
        "models": [{"version": m.version, "label_count": m.label_count, "match_count": m.match_count,
                    "distinct_count": m.distinct_count, "training_job_id": m.job_id} for m in facts["models"]],
        "merged_ids": [str(old.pk) for old in facts["absorbed"]],
        "changes": [{"change_id": c.pk, "kind": c.kind, "at": _when(c.created_at), "job_id": c.job_id,
                     "by": c.attribution.by, "why": c.attribution.why} for c in facts["changes"]],
        "before_last_run_change_id": facts["before_last_run"].pk if facts["before_last_run"] else None,
        "graph": graph_json(lineage), "activities": activities_json(lineage),
    }


def value_json(lineage: Lineage, story: ValueProvenance) -> dict:
    origin, override = story.origin, story.override
    return {
        "entity_id": str(story.entity.pk), "attribute": story.attribute.name, "value": story.value, "rule": story.rule,
        "rule_words": story.rule_words, "stale": story.stale, "rule_choice": story.rule_choice,
        "origin": None if origin is None else {
            "source": origin.record.source.slug, "key": origin.record.key, "version": origin.version,
            "current": origin.current, "batch_id": origin.batch.pk if origin.batch else None,
            "file_name": origin.batch.file_name if origin.batch else None, "file_row": origin.file_row,
            "at": _when(origin.at), "value": origin.value, "data": origin.data},
        "rivals": [{"source": r.record.source.slug, "key": r.record.key, "value": r.value, "why": r.why} for r in story.rivals],
        "override": None if override is None else {
            "id": override.pk, "by": override.user.username if override.user else None, "at": _when(override.created_at),
            "reason": override.reason, "issue_ids": story.issue_ids},
        "graph": graph_json(lineage), "activities": activities_json(lineage),
    }


def together_json(together: Together) -> dict:
    def ref(membership) -> dict:
        return {"record_id": membership.record_id, "source": membership.record.source.slug, "key": membership.record.key,
                "reason": together.reasons[membership.record_id].text}

    return {
        "left": ref(together.left), "right": ref(together.right),
        "model_version": together.model.version if together.model else None,
        "job_id": together.job.pk if together.job else None, "threshold": together.threshold, "score": together.score,
        "stored_score": together.stored_score, "baseline": together.baseline,
        "contributions": [{"attribute": c.attribute, "left": c.left, "right": c.right, "distance": c.distance,
                           "contribution": c.contribution, "effect": c.words} for c in together.contributions],
        "path": [{"left": ref(s.left), "right": ref(s.right), "score": s.score} for s in together.path],
        "path_above_threshold": together.path_above_threshold, "pairs_kept": together.pairs_kept,
    }


def record_json(lineage: Lineage) -> dict:
    record = lineage.facts["record"]
    timeline = []
    for e in lineage.facts["timeline"]:
        item = {"at": _when(e["at"]), "kind": e["kind"], "version": e.get("version"), "batch_id": None, "file_row": e.get("row"),
                "entity_id": None, "by": None}
        if e.get("batch") is not None:
            item["batch_id"] = e["batch"].pk
        if e["kind"] in ("joined", "left"):
            item["entity_id"], item["by"] = str(e["entity_id"]), e["change"].attribution.by
        timeline.append(item)
    return {"source": record.source.slug, "key": record.key, "version": record.version, "retired": record.retired,
            "file_row": record.file_row, "timeline": timeline,
            "memberships": [{"entity_id": str(row["membership"].entity_id),
                             "entity_type": row["membership"].entity.entity_type.slug,
                             **reason_json(record, row["reason"])} for row in lineage.facts["memberships"]],
            "graph": graph_json(lineage), "activities": activities_json(lineage)}


def batch_json(lineage: Lineage) -> dict:
    facts = lineage.facts
    batch = facts["batch"]
    return {"id": batch.pk, "source": batch.source.slug, "file_name": batch.file_name, "status": batch.status,
            "job_id": batch.job_id, "records_now": facts["records_now"], "superseded_versions": facts["superseded"],
            "later_runs": [job.pk for job in facts["later_runs"]],
            "graph": graph_json(lineage), "activities": activities_json(lineage)}


def job_json(lineage: Lineage) -> dict:
    job = lineage.facts["job"]
    return {"id": job.pk, "kind": job.kind, "status": job.status, "model_version": job.model.version if job.model else None,
            "changes": lineage.facts.get("changes", {}), "parameters": job.parameters, "counts": job.counts,
            "graph": graph_json(lineage), "activities": activities_json(lineage)}
