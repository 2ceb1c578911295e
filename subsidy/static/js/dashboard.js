/* The dashboard's charts (ECharts, served by the app). Their data comes in a JSON block of the
   page (#chart-data), which no browser executes. */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || !window.echarts) { return; }
  var data = JSON.parse(block.textContent);
  var charts = [];
  function make(id, option, rows) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (rows) { el.style.height = Math.max(el.clientHeight, 60 + 26 * rows) + "px"; }  // a bar each, readable
    var c = echarts.init(el, null, {renderer: "svg"});
    c.setOption(option);
    charts.push(c);
  }
  var grid = {left: 8, right: 28, top: 36, bottom: 8, containLabel: true};  // room for the last axis label
  function wan(v) { return v >= 10000 ? (v / 10000).toLocaleString("zh-CN") + "万" : String(v); }
  make("chart-projects", {
    tooltip: {trigger: "axis"}, legend: {top: 0}, grid: grid,
    // Yuan in 万 on the axis: eight-digit labels collided on a phone's 360 px.
    xAxis: {type: "value", axisLabel: {formatter: wan, hideOverlap: true}},
    yAxis: {type: "category", data: data.projects.names, axisLabel: {width: 90, overflow: "truncate"}},
    series: [{name: "审定", type: "bar", data: data.projects.approved}, {name: "已发放", type: "bar", data: data.projects.paid}]
  });
  function pct(list) { return list.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; }); }
  make("chart-regions", {
    tooltip: {trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : v + "%"; }}, legend: {top: 0}, grid: grid,
    // Names down the side, as the projects chart: rotated names overlapped one another on a phone.
    yAxis: {type: "category", data: data.regions.names, inverse: true, axisLabel: {width: 80, overflow: "truncate", interval: 0}},
    xAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%", hideOverlap: true}},
    series: [{name: "咨询办结率", type: "bar", data: pct(data.regions.inquiries)}, {name: "投诉办结率", type: "bar", data: pct(data.regions.complaints)}]
  }, data.regions.names.length);
  var months = data.months || [];
  make("chart-months", {
    tooltip: {trigger: "axis"}, legend: {top: 0}, grid: grid,
    xAxis: {type: "category", data: months.map(function (m) { return m.month; }),
            axisLabel: {hideOverlap: true, formatter: function (m) { return Number(m.slice(5)) + "月"; }}},
    yAxis: {type: "value", minInterval: 1},
    series: [{name: "咨询", type: "line", data: months.map(function (m) { return m.inquiries; })},
             {name: "投诉", type: "line", data: months.map(function (m) { return m.complaints; })},
             {name: "异议", type: "line", data: months.map(function (m) { return m.objections; })}]
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
