// Draws a lineage graph from the JSON the page embeds (json_script), with cytoscape and the dagre layout.
// The same nodes and edges are listed in the page beside it for keyboard and screen-reader users; this is the picture.
(function () {
  "use strict";
  var COLOURS = {
    value: "#b45309", entity: "#1d4ed8", retired: "#64748b", record: "#047857", version: "#0f766e",
    batch: "#7c3aed", file: "#a21caf", job: "#be123c", model: "#c2410c", labels: "#ca8a04",
    edit: "#0369a1", override: "#dc2626", issue: "#9f1239", source: "#4d7c0f", entity_type: "#334155",
    changes: "#475569"
  };

  function draw() {
    var holder = document.getElementById("lineage-graph");
    var data = document.getElementById("lineage-data");
    if (!holder || !data || typeof window.cytoscape !== "function") { return; }
    if (window.cytoscapeDagre) { window.cytoscape.use(window.cytoscapeDagre); }
    var graph = JSON.parse(data.textContent);
    var elements = [];
    graph.nodes.forEach(function (node) {
      elements.push({ data: { id: node.id, label: node.kind_words + "\n" + node.label, kind: node.kind, url: node.url,
                              colour: COLOURS[node.kind] || "#334155", focus: node.id === graph.focus ? 1 : 0 } });
    });
    graph.edges.forEach(function (edge, index) {
      elements.push({ data: { id: "e" + index, source: edge.source, target: edge.target,
                              label: edge.label.length > 48 ? edge.label.slice(0, 45) + "…" : edge.label } });
    });
    var cy = window.cytoscape({
      container: holder,
      elements: elements,
      style: [
        { selector: "node", style: {
          "shape": "round-rectangle", "background-color": "data(colour)", "color": "#fff", "label": "data(label)",
          "text-wrap": "wrap", "text-max-width": 170, "font-size": 11, "text-valign": "center", "text-halign": "center",
          "width": 180, "height": 46, "padding": 4 } },
        { selector: "node[focus = 1]", style: { "border-width": 4, "border-color": "#111827" } },
        { selector: "edge", style: {
          "curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.5, "line-color": "#94a3b8",
          "target-arrow-color": "#94a3b8", "label": "data(label)", "font-size": 9, "text-rotation": "autorotate",
          "text-background-color": "#fff", "text-background-opacity": 0.85, "color": "#334155" } }
      ],
      layout: window.cytoscapeDagre ? { name: "dagre", rankDir: "LR", nodeSep: 18, rankSep: 90 } : { name: "breadthfirst" }
    });
    cy.on("tap", "node", function (event) {
      var url = event.target.data("url");
      if (url) { window.location.assign(url); }
    });
    holder.setAttribute("data-drawn", String(graph.nodes.length));
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
