"""Why each record is a member of its entity, in words, with the run, model and edit behind it."""

from collections import defaultdict
from dataclasses import dataclass, field

from mastering.models import ClusterEdit, Entity, Job, Membership, ScoredPair
from steward.templatetags.issue_links import ISSUE

EDIT_WORDS = {
    ClusterEdit.Kind.MERGE: "merged in",
    ClusterEdit.Kind.SPLIT: "split out into this entity",
    ClusterEdit.Kind.MOVE: "moved here",
    ClusterEdit.Kind.PIN: "pinned here",
    ClusterEdit.Kind.UNPIN: "kept after an unpin",
}


@dataclass(frozen=True)
class Partner:
    """The member this record was scored closest to in the run that placed it."""

    record_id: int
    label: str
    url: str
    score: float


@dataclass(frozen=True)
class Reason:
    """Why one record is in its entity: the kind, one line in words, and what to link to."""

    kind: str
    text: str
    job_id: int | None = None
    model_version: int | None = None
    score: float | None = None
    edit_id: int | None = None
    by: str | None = None
    why: str = ""
    issue_ids: list[int] = field(default_factory=list)
    partner: Partner | None = None


def _run(job: Job | None) -> str:
    if job is None:
        return ""
    model = f" (model v{job.model.version})" if job.model_id and job.model else ""
    return f" in run #{job.pk}{model}"


def _reason(membership: Membership, partner: Partner | None) -> Reason:
    job, edit = membership.job, membership.edit
    version = job.model.version if job is not None and job.model_id and job.model else None
    common = {"job_id": membership.job_id, "model_version": version, "score": membership.confidence}
    if membership.reason in (Membership.Reason.EDIT, Membership.Reason.PINNED, Membership.Reason.ISSUE) and edit is not None:
        who = edit.user.username if edit.user else "a deleted user"
        verb = EDIT_WORDS.get(edit.kind, "placed here")
        if membership.reason == Membership.Reason.PINNED and edit.kind != ClusterEdit.Kind.PIN:
            verb = f"{verb}, then pinned"
        issues = [int(n) for n in ISSUE.findall(edit.reason)]
        return Reason(membership.reason, f"{verb} by {who}: {edit.reason}", edit_id=edit.pk, by=who, why=edit.reason,
                      issue_ids=issues, **common)
    if membership.reason in (Membership.Reason.EDIT, Membership.Reason.PINNED, Membership.Reason.ISSUE):
        return Reason(membership.reason, f"{membership.get_reason_display().lower()} (the edit is no longer recorded)", **common)
    if membership.reason == Membership.Reason.SINGLETON:
        return Reason(membership.reason, f"no record matched it above the threshold{_run(job)}", **common)
    if partner is not None:
        text = f"matched record {partner.label} with score {partner.score:.2f}{_run(job)}"
    elif membership.confidence is not None:
        text = f"matched by the model with confidence {membership.confidence:.2f}{_run(job)}"
    else:
        text = f"matched by the model{_run(job)}"
    return Reason(membership.reason, text, partner=partner, **common)


def _partners(memberships: list[Membership]) -> dict[int, Partner]:
    """Each model-placed member's best-scored fellow member in the run that placed it (one query per run).

    Scored pairs are kept for the latest finished run only, so members placed by an older run get no partner.
    """
    by_record = {m.record_id: m for m in memberships}
    runs: dict[int, set[int]] = defaultdict(set)
    for m in memberships:
        if m.reason == Membership.Reason.MODEL and m.job_id:
            runs[m.job_id].add(m.record_id)
    best: dict[int, tuple[float, int]] = {}
    members = list(by_record)
    for job_id, placed in runs.items():
        pairs = ScoredPair.objects.filter(job_id=job_id, left__in=members, right__in=members, score__isnull=False)
        for left, right, score in pairs.values_list("left", "right", "score"):
            for record, other in ((left, right), (right, left)):
                if record in placed and (record not in best or score > best[record][0]):
                    best[record] = (score, other)
    partners = {}
    for record, (score, other) in best.items():
        rec = by_record[other].record
        partners[record] = Partner(other, f"{rec.source.slug}:{rec.key}", rec.get_absolute_url(), score)
    return partners


def membership_reasons(entity: Entity, *, memberships: list[Membership] | None = None,
                       with_partners: bool = False) -> dict[int, Reason]:
    """Record id → why it is in the entity, in one line ("matched record web:602 with score 0.93 in run #5 (model v3)").

    Pass memberships loaded with record__source, job__model and edit__user (selectors.list_entities does) to read
    nothing more; with_partners names the best-scored fellow member, at one query per run that placed members.
    """
    if memberships is None:
        memberships = list(Membership.objects.filter(entity=entity)
                           .select_related("record__source", "job__model", "edit__user").order_by("record_id"))
    partners = _partners(memberships) if with_partners else {}
    return {m.record_id: _reason(m, partners.get(m.record_id)) for m in memberships}
