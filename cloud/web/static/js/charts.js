// Draws each <div data-chart> with uPlot from the JSON beside it ({x: [epoch s], series:
// [{label, values}]}). No build step; the page is complete without it (the numbers are on
// "nu"), the charts are the extra.
(function () {
  "use strict";
  var colours = ["#0059b3", "#b35900", "#358000", "#7a2e8f", "#a31e22", "#006b6b"];
  var units = { temperature_c: "°C", humidity_pct: "%", co2_ppm: "ppm" };
  var charts = [];
  function draw(el) {
    var data = JSON.parse(document.getElementById("chart-data-" + el.dataset.chart).textContent);
    var width = Math.max(280, el.clientWidth);
    var series = [{}];
    var columns = [data.x];
    data.series.forEach(function (s, i) {
      series.push({ label: s.label, stroke: colours[i % colours.length], width: 2, spanGaps: false });
      columns.push(s.values);
    });
    var unit = units[el.dataset.chart] || "";
    var plot = new uPlot({
      width: width,
      height: 240,
      series: series,
      axes: [{}, { values: function (u, vals) { return vals.map(function (v) { return v + " " + unit; }); }, size: 84 }],
      scales: { x: { time: true } },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Europe/Copenhagen"); }
    }, columns, el);
    charts.push({ el: el, plot: plot });
  }
  document.querySelectorAll("[data-chart]").forEach(draw);
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.plot.setSize({ width: Math.max(280, c.el.clientWidth), height: 240 }); });
  });
})();
