// Draws every canvas[data-chart] with Chart.js (static/js/chart-*.umd.min.js, loaded before this
// file). The data comes from the server as JSON in the attribute; the same figures stand in a table
// beside each chart, so without JavaScript (or for a screen reader) nothing is missing.
(function () {
  "use strict";

  var BRAND = "#0b4f8a";
  var OUTCOME = "#8a5a00";
  var MUTED = "#5a6775";

  function percentTick(value) { return value + " %"; }

  function line(data) {
    return {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [{ label: data.label, data: data.values, borderColor: BRAND, backgroundColor: BRAND, spanGaps: true, tension: 0.2 }]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: { y: { min: 0, max: 100, ticks: { callback: percentTick, color: MUTED } }, x: { ticks: { color: MUTED } } },
        plugins: { legend: { display: false } }
      }
    };
  }

  function funnel(data, canvas) {
    var colors = data.values.map(function (_, i) { return i < data.steps ? BRAND : OUTCOME; });
    return {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: data.label, data: data.values, backgroundColor: colors }] },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        scales: { x: { beginAtZero: true, ticks: { precision: 0, color: MUTED } }, y: { ticks: { color: MUTED } } },
        plugins: { legend: { display: false } },
        // a bar leads to the Bestand filtered to exactly its contracts (the table's links do the same)
        onClick: function (_event, elements) {
          if (elements.length && data.links && data.links[elements[0].index]) {
            window.location.href = data.links[elements[0].index];
          }
        },
        onHover: function (_event, elements) {
          canvas.style.cursor = elements.length && data.links && data.links.length ? "pointer" : "default";
        }
      }
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Chart) { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data = JSON.parse(canvas.getAttribute("data-chart"));
      var config = data.kind === "funnel" ? funnel(data, canvas) : line(data);
      canvas.closest("figure").classList.add("chart--drawn");
      new window.Chart(canvas, config);
    });
  });
})();
