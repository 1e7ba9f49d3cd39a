"""``GET /metrics``: the store's numbers in the Prometheus text format.

Read from the store at scrape time by a custom collector on a registry of this app (no
process-global registry), so every process serving the API reports the same numbers:

- ``wfmon_runs_total{workflow,environment,status}`` runs recorded, by status
- ``wfmon_run_duration_seconds{workflow,environment}`` summary (sum, count) of timed runs
- ``wfmon_workflow_up{workflow,environment}`` 1 when the latest run passed or was degraded
- ``wfmon_workflow_consecutive_failures{workflow,environment}``
- ``wfmon_workflow_last_run_timestamp_seconds{workflow,environment}``
- ``wfmon_circuit_breaker_state{workflow,environment,state}`` 1 for the current state
- ``wfmon_alerts_open{severity}`` open (active or acknowledged) alerts
- ``wfmon_database_up`` 1 when the store answered this scrape (else only this is reported)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from store import StoreError, alert_statistics
from store.metrics import all_workflows

__all__ = ["PrometheusController", "StoreCollector", "prometheus_registry"]

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4"
_STATES = ("CLOSED", "OPEN", "HALF_OPEN")
_UP = ("passed", "degraded")

RegistryDep = NamedDependency[CollectorRegistry]


class StoreCollector(Collector):
    """Collects the metrics above from the store at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        """One family per metric; on a store failure, only ``wfmon_database_up 0``."""
        up = GaugeMetricFamily("wfmon_database_up", "1 when the store answered this scrape")
        try:
            workflows = all_workflows(self._engine)
            alerts = alert_statistics(self._engine)
        except StoreError as exc:
            logger.warning("metrics scrape: store failed: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        labels = ["workflow", "environment"]
        runs = CounterMetricFamily(
            "wfmon_runs", "Runs recorded, by status", labels=[*labels, "status"]
        )
        durations = SummaryMetricFamily(
            "wfmon_run_duration_seconds", "Duration of runs that sent requests", labels=labels
        )
        healthy = GaugeMetricFamily(
            "wfmon_workflow_up", "1 when the latest run passed or was degraded", labels=labels
        )
        streak = GaugeMetricFamily(
            "wfmon_workflow_consecutive_failures",
            "Failed runs since the last success",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "wfmon_workflow_last_run_timestamp_seconds", "Start of the latest run", labels=labels
        )
        breakers = GaugeMetricFamily(
            "wfmon_circuit_breaker_state",
            "1 for the breaker's current state",
            labels=[*labels, "state"],
        )
        for workflow in workflows:
            key = [workflow.workflow, workflow.environment]
            counts = workflow.counts
            for status, value in (
                ("passed", counts.passed),
                ("degraded", counts.degraded),
                ("failed", counts.failed),
                ("skipped", counts.skipped),
            ):
                runs.add_metric([*key, status], value)
            durations.add_metric(key, counts.timed_runs, counts.duration_sum_ms / 1000)
            healthy.add_metric(key, 1 if workflow.last_status in _UP else 0)
            streak.add_metric(key, workflow.consecutive_failures)
            last.add_metric(key, workflow.last_started_at.timestamp())
            for state in _STATES:
                breakers.add_metric([*key, state], 1 if workflow.circuit_state == state else 0)
        yield from (runs, durations, healthy, streak, last, breakers)
        open_alerts = GaugeMetricFamily(
            "wfmon_alerts_open", "Open (active or acknowledged) alerts", labels=["severity"]
        )
        for severity, count in alerts["open_by_severity"].items():
            open_alerts.add_metric([severity], count)
        yield open_alerts


def prometheus_registry(engine: Engine) -> CollectorRegistry:
    """A registry of its own holding only the store collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(engine))
    return registry


class PrometheusController(Controller):
    """The scrape endpoint."""

    path = "/metrics"
    tags = ["prometheus"]

    @get(
        name="prometheus",
        summary="Prometheus metrics",
        sync_to_thread=True,
        media_type=CONTENT_TYPE,
    )
    def scrape(self, request: Request[Any, Any, Any], registry: RegistryDep) -> Response[str]:
        """Workflow runs, durations, state, breakers and open alerts, in the text format."""
        return Response(generate_latest(registry).decode(), media_type=CONTENT_TYPE)
