/**
 * Entry of the dashboard charts bundle (Yunying staff UI, browser layer;
 * built by build.mjs into static/dist/charts.js and loaded only by the
 * dashboard pages, after app.js — ECharts is big).
 *
 * Only the ECharts parts the dashboards use are imported (core, line and
 * bar charts, grid, tooltip and legend, the canvas renderer), so the bundle
 * stays a fraction of the full library.
 *
 * Hook: `[data-chart]` — an element holding a
 * `<script type="application/json" data-chart-data>` child with
 *   {"kind": "line" | "bar", "labels": [...], "unit": "…",
 *    "series": [{"name": "…", "values": ["12.50", null, …], "dashed": false}]}
 * (values are decimal strings or null). The chart is drawn into the
 * element's `[data-chart-canvas]` child (or the element itself), on load
 * and after every htmx swap, resized with the window and disposed when
 * htmx removes it. The server renders the same numbers as a table inside
 * the element, so the page says everything without JavaScript.
 */

import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";

import { claim, within } from "./dom.js";

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer]);

const PALETTE = ["#1f6feb", "#8c959f", "#2da44e", "#bf8700", "#cf222e"];

function numberOrNull(value) {
  if (value === null || value === undefined || value === "") return null;
  const number = Number(value);
  return Number.isFinite(number) ? number : null;
}

/** The ECharts option of a chart description (see the header). */
export function chartOption(spec) {
  const kind = spec.kind === "bar" ? "bar" : "line";
  const unit = spec.unit ? ` ${spec.unit}` : "";
  return {
    color: PALETTE,
    animation: false,
    grid: { left: 56, right: 24, top: 36, bottom: 32 },
    legend: { top: 0, data: spec.series.map((series) => series.name) },
    tooltip: {
      trigger: "axis",
      valueFormatter: (value) => (value === null || value === undefined ? "—" : `${value}${unit}`),
    },
    xAxis: { type: "category", data: spec.labels, boundaryGap: kind === "bar" },
    yAxis: { type: "value", scale: kind === "line", name: spec.unit || "" },
    series: spec.series.map((series) => ({
      name: series.name,
      type: kind,
      data: series.values.map(numberOrNull),
      connectNulls: false,
      showSymbol: true,
      lineStyle: series.dashed ? { type: "dashed" } : undefined,
    })),
  };
}

function readSpec(element) {
  const source = element.querySelector("script[data-chart-data]");
  if (!source) return null;
  try {
    return JSON.parse(source.textContent);
  } catch (error) {
    console.warn("yunying charts: unreadable chart data", error);
    return null;
  }
}

function draw(element) {
  if (!claim(element, "chart")) return;
  const spec = readSpec(element);
  if (!spec) return;
  const target = element.querySelector("[data-chart-canvas]") || element;
  const chart = echarts.init(target, null, { renderer: "canvas" });
  chart.setOption(chartOption(spec));
  element.setAttribute("data-chart-drawn", "");
}

/** Draw every chart under `root` not drawn yet. */
export function initCharts(root) {
  within(root, "[data-chart]").forEach(draw);
}

function disposeUnder(root) {
  for (const element of within(root, "[data-chart-canvas]")) {
    const chart = echarts.getInstanceByDom(element);
    if (chart) chart.dispose();
  }
}

function resizeAll() {
  for (const element of document.querySelectorAll("[data-chart-canvas]")) {
    const chart = echarts.getInstanceByDom(element);
    if (chart) chart.resize();
  }
}

if (window.htmx) {
  window.htmx.onLoad(initCharts);
  document.addEventListener("htmx:beforeCleanupElement", (event) => disposeUnder(event.target));
}
window.addEventListener("resize", resizeAll);
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => initCharts(document));
} else {
  initCharts(document);
}
