"""``GET /``: the dashboard, one self-contained page reading ``/api/monitoring/metrics``.

No build step and no external assets (the monitor must work where the Internet does not):
plain HTML, CSS and a little JavaScript that fetches the metrics every 60 s.
"""

from __future__ import annotations

from litestar import Controller, get
from litestar.enums import MediaType

__all__ = ["DashboardController"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wfmon</title>
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 24px; background: #1d2330;
           color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  main { padding: 16px 24px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; }
  .card { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
  .card .label { color: #667; font-size: 12px; text-transform: uppercase; }
  .card .value { font-size: 24px; font-weight: 600; }
  table { width: 100%; border-collapse: collapse; background: #fff; margin-top: 16px;
          box-shadow: 0 1px 2px #0002; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eee; }
  .passed { color: #18794e; } .degraded { color: #ad5700; } .failed { color: #cd2b31; }
  .skipped { color: #6e56cf; }
  .healthy { color: #18794e; } .unhealthy { color: #cd2b31; }
  #error { color: #cd2b31; }
  svg { background: #fff; border-radius: 8px; margin-top: 16px; box-shadow: 0 1px 2px #0002; }
</style>
</head>
<body>
<header>
  <h1>wfmon</h1>
  <label>Period
    <select id="period">
      <option value="1h">1 hour</option>
      <option value="24h" selected>24 hours</option>
      <option value="7d">7 days</option>
      <option value="30d">30 days</option>
    </select>
  </label>
  <span>Health: <strong id="health-status">…</strong></span>
  <span id="updated"></span>
</header>
<main>
  <p id="error" role="alert"></p>
  <section class="cards">
    <div class="card"><div class="label">Executions</div>
      <div class="value" id="total-executions">…</div></div>
    <div class="card"><div class="label">Success rate</div>
      <div class="value" id="success-rate">…</div></div>
    <div class="card"><div class="label">Average duration</div>
      <div class="value" id="average-duration">…</div></div>
    <div class="card"><div class="label">p95 duration</div>
      <div class="value" id="p95-duration">…</div></div>
    <div class="card"><div class="label">Active alerts</div>
      <div class="value" id="active-alerts">…</div></div>
  </section>
  <svg id="hourly-chart" width="100%" height="120" viewBox="0 0 1000 120"
       preserveAspectRatio="none" aria-label="Executions per hour"></svg>
  <table>
    <thead><tr><th>Workflow</th><th>Environment</th><th>Runs</th><th>Success</th>
      <th>Avg</th><th>p95</th><th>Last</th><th>Failures in a row</th><th>Breaker</th></tr></thead>
    <tbody id="workflows"></tbody>
  </table>
</main>
<script>
"use strict";
const ms = (value) => `${Math.round(value)} ms`;
const cell = (text, cls) => {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
};
function drawChart(hours) {
  const svg = document.getElementById("hourly-chart");
  svg.replaceChildren();
  const peak = Math.max(1, ...hours.map((h) => h.total));
  const width = 1000 / Math.max(1, hours.length);
  hours.forEach((hour, index) => {
    for (const [count, colour, base] of [[hour.successful, "#30a46c", 0],
                                         [hour.failed, "#e5484d", hour.successful]]) {
      if (!count) continue;
      const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const height = (count / peak) * 110;
      bar.setAttribute("x", index * width);
      bar.setAttribute("width", Math.max(width - 1, 0.5));
      bar.setAttribute("y", 115 - (base / peak) * 110 - height);
      bar.setAttribute("height", height);
      bar.setAttribute("fill", colour);
      bar.setAttribute("class", "bar");
      const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
      title.textContent = `${hour.hour}: ${hour.total} runs, ${hour.failed} failed`;
      bar.appendChild(title);
      svg.appendChild(bar);
    }
  });
}
async function refresh() {
  const period = document.getElementById("period").value;
  const error = document.getElementById("error");
  try {
    const response = await fetch(`/api/monitoring/metrics?period=${period}`);
    const body = await response.json();
    if (!body.success) throw new Error(`${body.error.code}: ${body.error.message}`);
    const { summary, workflows, system, trends } = body.data;
    document.getElementById("total-executions").textContent = summary.totalExecutions;
    document.getElementById("success-rate").textContent = `${summary.successRate.toFixed(1)}%`;
    document.getElementById("average-duration").textContent = ms(summary.averageDuration);
    document.getElementById("p95-duration").textContent = ms(summary.p95Duration);
    document.getElementById("active-alerts").textContent = system.activeAlerts;
    const health = document.getElementById("health-status");
    health.textContent = system.healthStatus;
    health.className = system.healthStatus;
    const rows = workflows.map((w) => {
      const tr = document.createElement("tr");
      tr.dataset.workflow = w.workflowName;
      tr.append(cell(w.workflowName), cell(w.environment), cell(w.executionCount),
                cell(`${w.successRate.toFixed(1)}%`), cell(ms(w.averageDuration)),
                cell(ms(w.p95Duration)), cell(w.lastStatus, w.lastStatus),
                cell(w.consecutiveFailures), cell(w.circuitState));
      return tr;
    });
    document.getElementById("workflows").replaceChildren(...rows);
    drawChart(trends.hourlyExecutions);
    document.getElementById("updated").textContent = `updated ${body.meta.timestamp}`;
    error.textContent = "";
  } catch (failure) {
    error.textContent = `Could not load metrics: ${failure.message}`;
  }
  document.body.dataset.loaded = period;
}
document.getElementById("period").addEventListener("change", refresh);
refresh();
setInterval(refresh, 60000);
</script>
</body>
</html>
"""


class DashboardController(Controller):
    """The dashboard page."""

    path = "/"
    tags = ["dashboard"]

    @get(name="dashboard", summary="Dashboard", media_type=MediaType.HTML, sync_to_thread=False)
    def page(self) -> str:
        """Summary cards, executions per hour and the workflows table."""
        return PAGE
