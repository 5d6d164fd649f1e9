"""Lineage graphs: nodes (things) and edges (what made what), upstream first, for the graph and the readable list.

Every node carries a url, so the picture and the list beside it lead into each object's page and its lineage.
"""

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count
from django.urls import reverse

from lineage.models import Activity, ActivityObject

KIND_WORDS = {
    "value": "Golden value", "entity": "Entity", "record": "Source record", "version": "Record version",
    "batch": "Batch", "file": "File row", "job": "Run", "model": "Model version", "labels": "Labels",
    "edit": "Curator edit", "override": "Override", "issue": "Data issue", "source": "Source",
    "retired": "Merged id", "entity_type": "Entity type", "changes": "Changes",
}


@dataclass
class Graph:
    """Nodes and edges, each added once; `as_json` feeds cytoscape, `nodes`/`edges` the readable list."""

    nodes: dict[str, dict] = field(default_factory=dict)
    edges: dict[tuple[str, str], dict] = field(default_factory=dict)
    focus: str = ""

    def node(self, node_id: str, kind: str, label: str, url: str = "", detail: str = "") -> str:
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "kind": kind, "kind_words": KIND_WORDS.get(kind, kind),
                                   "label": label, "url": url, "detail": detail}
        return node_id

    def edge(self, upstream: str, downstream: str, label: str) -> None:
        self.edges.setdefault((upstream, downstream), {"source": upstream, "target": downstream, "label": label})

    def as_json(self) -> dict:
        return {"focus": self.focus, "nodes": list(self.nodes.values()), "edges": list(self.edges.values())}

    def listing(self) -> list[dict]:
        """Each node with what fed it and what it fed, in words, for keyboard and screen-reader users."""
        into: dict[str, list] = {}
        out: dict[str, list] = {}
        for edge in self.edges.values():
            into.setdefault(edge["target"], []).append((self.nodes[edge["source"]], edge["label"]))
            out.setdefault(edge["source"], []).append((self.nodes[edge["target"]], edge["label"]))
        return [{**node, "from": into.get(node["id"], []), "to": out.get(node["id"], [])} for node in self.nodes.values()]


def record_node(graph: Graph, record) -> str:
    if f"record-{record.pk}" in graph.nodes:  # reversing URLs is most of a big graph's cost: once per node
        return f"record-{record.pk}"
    return graph.node(f"record-{record.pk}", "record", f"{record.source.slug}:{record.key}",
                      reverse("mastering:record-lineage", args=[record.source.slug, record.key]),
                      f"version {record.version}" + (" (retired)" if record.retired else ""))


def batch_node(graph: Graph, batch, source_slug: str) -> str:
    if f"batch-{batch.pk}" in graph.nodes:
        return f"batch-{batch.pk}"
    name = batch.file_name or batch.get_channel_display().lower()
    return graph.node(f"batch-{batch.pk}", "batch", f"batch {batch.pk}: {name}",
                      reverse("mastering:batch-lineage", args=[source_slug, batch.pk]),
                      f"{batch.get_status_display()}, {batch.created_at:%Y-%m-%d %H:%M}")


def job_node(graph: Graph, job) -> str:
    if f"job-{job.pk}" in graph.nodes:
        return f"job-{job.pk}"
    return graph.node(f"job-{job.pk}", "job", f"{job.get_kind_display()} #{job.pk}",
                      reverse("mastering:job-detail", args=[job.pk]), job.get_status_display())


def model_node(graph: Graph, model, slug: str) -> str:
    if f"model-{model.pk}" in graph.nodes:
        return f"model-{model.pk}"
    node = graph.node(f"model-{model.pk}", "model", f"model v{model.version}",
                      reverse("mastering:entity-type-detail", args=[slug]) + f"#model-v{model.version}",
                      f"{model.label_count} labels")
    labels = graph.node(f"labels-{model.pk}", "labels", f"{model.label_count} labels "
                        f"({model.match_count} match, {model.distinct_count} distinct)",
                        reverse("curation:label-list", args=[slug]) + f"?taught={model.version}")
    graph.edge(labels, node, "taught")
    if model.job_id:
        trained = graph.node(f"job-{model.job_id}", "job", f"Training #{model.job_id}",
                             reverse("mastering:job-detail", args=[model.job_id]))
        graph.edge(trained, node, "made")
    return node


def activities_touching(objects: list, *, limit: int = 20) -> tuple[dict[str, int], list[Activity]]:
    """(count per activity kind, the latest activities) of everything that read or wrote any of the objects.

    Two queries however many objects: the objects are grouped by type, and object ids are matched as text.
    """
    wanted = {}
    for obj in objects:
        content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        wanted.setdefault(content_type.pk, set()).add(str(obj.pk))
    if not wanted:
        return {}, []
    from django.db.models import Q

    match = Q()
    for content_type_id, ids in wanted.items():
        match |= Q(content_type_id=content_type_id, object_id__in=sorted(ids))
    activity_ids = ActivityObject.objects.filter(match).values("activity_id")
    activities = Activity.objects.filter(pk__in=activity_ids)
    labels = dict(Activity.Kind.choices)
    counts = {labels.get(kind, kind): n for kind, n in
              activities.order_by("kind").values_list("kind").annotate(n=Count("id")).values_list("kind", "n")}
    latest = list(activities.select_related("user").order_by("-started_at", "-id")[:limit])
    return counts, latest
