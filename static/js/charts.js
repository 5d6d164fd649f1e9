// Charts drawn by the vendored Chart.js from data the page carries in json_script tags (no inline script: strict CSP).
// <figure data-chart="bar|line" data-chart-data="id-of-json-script"> holds a server-drawn SVG, replaced when this runs.
(function () {
  const COLOURS = { a: "#2f5bd3", b: "#1f7a4d", aSoft: "#8fa9ec", bSoft: "#8fd1ad", marker: "#b42318" };

  // A vertical line at a value of the x axis (the threshold), drawn after the datasets.
  const markerPlugin = {
    id: "stewardMarker",
    afterDatasetsDraw(chart, _args, options) {
      if (options.index === undefined || options.index === null) return;
      const x = chart.scales.x.getPixelForValue(options.index);
      const { top, bottom } = chart.chartArea;
      const ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = COLOURS.marker;
      ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      ctx.fillStyle = COLOURS.marker;
      ctx.fillText(options.label || "", x + 4, top + 10);
      ctx.restore();
    },
  };

  function barChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: data.series, data: data.values,
        backgroundColor: data.values.map((_, i) => (data.highlight_from !== null && i >= data.highlight_from ? COLOURS.bSoft : COLOURS.aSoft)) }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { legend: { display: false }, stewardMarker: { index: data.marker_index, label: data.marker_label } },
        scales: { x: { title: { display: true, text: data.x_label } },
                  y: { beginAtZero: true, title: { display: true, text: data.y_label }, ticks: { precision: 0 } } } },
      plugins: [markerPlugin],
    });
  }

  function lineChart(canvas, data) {
    const colours = [COLOURS.a, COLOURS.b];
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: data.series.map((s, i) => ({ label: s.name, data: s.values, borderColor: colours[i % 2],
        backgroundColor: colours[i % 2], spanGaps: true })) },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        plugins: { stewardMarker: { index: data.marker_index, label: data.marker_label } },
        scales: { x: { title: { display: true, text: data.x_label } },
                  y: { min: 0, max: 1, title: { display: true, text: data.y_label } } } },
      plugins: [markerPlugin],
    });
  }

  function draw() {
    if (!window.Chart) return; // the server-drawn SVG stays
    document.querySelectorAll("figure[data-chart]").forEach((figure) => {
      const source = document.getElementById(figure.dataset.chartData);
      if (!source || figure.dataset.drawn) return;
      const data = JSON.parse(source.textContent);
      const box = document.createElement("div");
      box.className = "chart-box";
      const canvas = document.createElement("canvas");
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", data.title || "");
      box.appendChild(canvas);
      const svg = figure.querySelector("svg");
      figure.insertBefore(box, figure.firstChild);
      (figure.dataset.chart === "bar" ? barChart : lineChart)(canvas, data);
      if (svg) svg.remove();
      figure.dataset.drawn = "chartjs";
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
