""""Why are these two together?": the model's score for two members, each attribute's part in it, and the chain of
scored pairs of the run that links them when the run did not compare them directly."""

from collections import deque
from dataclasses import dataclass, field

from mastering.config_cache import cached_projection
from mastering.matchers import matcher_for
from mastering.models import Entity, Job, MatchModel, Membership, ScoredPair
from mastering.provenance.members import Reason, membership_reasons
from mastering.selectors import match_threshold_for


class NotMembers(ValueError):
    """The records asked about are not two different members of the entity."""


@dataclass(frozen=True)
class Contribution:
    attribute: str
    left: str | None
    right: str | None
    distance: float | None
    contribution: float

    @property
    def words(self) -> str:
        if self.left in (None, "") or self.right in (None, ""):
            return "missing on one side" if (self.left or self.right) else "missing on both sides"
        if abs(self.contribution) < 0.05:
            return "hardly matters"
        return "pulls them together" if self.contribution > 0 else "pushes them apart"


@dataclass(frozen=True)
class Step:
    left: Membership
    right: Membership
    score: float


@dataclass
class Together:
    entity: Entity
    left: Membership
    right: Membership
    reasons: dict[int, Reason]
    model: MatchModel | None
    job: Job | None
    threshold: float | None
    score: float | None = None  # the model's probability for the pair now
    stored_score: float | None = None  # the score the run gave it, when the run compared it
    baseline: float | None = None
    contributions: list[Contribution] = field(default_factory=list)
    path: list[Step] = field(default_factory=list)
    path_above_threshold: bool = True
    pairs_kept: bool = True  # the run's scored pairs are still stored (only the latest finished run's are)


def _placing_job(left: Membership, right: Membership) -> Job | None:
    jobs = [m.job for m in (left, right) if m.job_id]
    return max(jobs, key=lambda j: j.pk) if jobs else None


def _bfs(start: int, goal: int, edges: dict[int, list[tuple[int, float]]]) -> list[tuple[int, int, float]]:
    """The fewest-hops chain of scored pairs from start to goal (ties: the first found), or []."""
    came: dict[int, tuple[int, float] | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for other, score in sorted(edges.get(node, ()), key=lambda e: -e[1]):
            if other not in came:
                came[other] = (node, score)
                queue.append(other)
    if goal not in came:
        return []
    steps, node = [], goal
    while came[node] is not None:
        previous, score = came[node]
        steps.append((previous, node, score))
        node = previous
    return list(reversed(steps))


def why_together(entity: Entity, left_id: int, right_id: int) -> Together:
    """Explain why two member records share the entity; raises NotMembers when they are not two of its members."""
    memberships = {m.record_id: m for m in Membership.objects.filter(entity=entity)
                   .select_related("record__source", "job__model", "edit__user")}
    if left_id == right_id or left_id not in memberships or right_id not in memberships:
        raise NotMembers("Pick two different records of this entity.")
    left, right = memberships[left_id], memberships[right_id]
    job = _placing_job(left, right)
    model = job.model if job is not None and job.model_id else entity.entity_type.active_model
    together = Together(entity, left, right, membership_reasons(entity, memberships=list(memberships.values())), model, job,
                        match_threshold_for(entity_type=entity.entity_type, model=model) if model else None)
    if model is not None:
        projection = cached_projection(entity.entity_type)
        a = projection.project(left.record.source_id, left.record.data)
        b = projection.project(right.record.source_id, right.record.data)
        matcher = matcher_for(model)
        together.score = round(matcher.score_pair(a, b), 4)
        # An attribute can have several comparators (several dedupe variables); its part is their sum.
        parts: dict[str, list] = {}
        for part in matcher.explain(a, b):
            if part.attribute == "(baseline)":
                together.baseline = part.contribution
            else:
                parts.setdefault(part.attribute, []).append(part)
        for name, pieces in parts.items():
            distances = [p.distance for p in pieces if p.distance is not None]
            together.contributions.append(Contribution(name, a.get(name), b.get(name), distances[0] if distances else None,
                                                       round(sum(p.contribution for p in pieces), 4)))
    if job is None:
        return together
    members = list(memberships)
    scored = list(ScoredPair.objects.filter(job=job, left__in=members, right__in=members, score__isnull=False)
                  .values_list("left", "right", "score"))
    together.pairs_kept = bool(scored) or ScoredPair.objects.filter(job=job).exists()
    for a, b, score in scored:
        if {a, b} == {left_id, right_id}:
            together.stored_score = score

    def chain(floor: float | None) -> list[Step]:
        edges: dict[int, list[tuple[int, float]]] = {}
        for a, b, score in scored:
            if floor is None or score >= floor:
                edges.setdefault(a, []).append((b, score))
                edges.setdefault(b, []).append((a, score))
        return [Step(memberships[a], memberships[b], s) for a, b, s in _bfs(left_id, right_id, edges)]
    together.path = chain(together.threshold)
    if not together.path and scored:
        together.path = chain(None)
        together.path_above_threshold = False
    return together
