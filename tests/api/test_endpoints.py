"""Executions, alerts, breakers, health and Prometheus endpoints; auth; errors as envelopes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from api import create_app
from rules.models import Alert, AlertState, Severity
from store import AlertWrite, apply_alert_decision, get_run, record_run, run_record_json
from store.breakers import DatabaseBreakerStore
from store.database import create_engine_for
from tasks.breaker import Breaker, BreakerState
from tests.api.conftest import NOW, TOKEN, AppFactory
from tests.store.examples import failed_checkout, passed_run

GOOD = {"Authorization": f"Bearer {TOKEN}"}


def _alert(engine: Engine, alert_id: str = "alert-1") -> None:
    alert = Alert(
        id=alert_id,
        rule_id="critical-workflow-failure",
        workflow="checkout",
        environment="staging",
        severity=Severity.CRITICAL,
        state=AlertState.ACTIVE,
        message="checkout failed",
        first_seen=NOW - timedelta(minutes=5),
        last_seen=NOW - timedelta(minutes=1),
        channels=("SLACK",),
    )
    apply_alert_decision(
        engine, key=alert.key, decide=lambda _: AlertWrite(alert=alert, outcome=None)
    )


def _open_breaker(engine: Engine, key: str = "checkout@staging") -> None:
    opened = Breaker(state=BreakerState.OPEN, consecutive_failures=3, opened_at=NOW)
    DatabaseBreakerStore(engine).transition_sync(key, lambda _: (opened, None))


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["meta"]["timestamp"] == "2026-05-20T12:30:00.000Z"
    return body


# --- executions ----------------------------------------------------------------------------


def test_executions_list_and_detail_are_run_records(
    migrated_engine: Engine, client: TestClient[Litestar]
) -> None:
    failed_id = record_run(migrated_engine, result=failed_checkout())
    for minutes in (1, 2, 3):
        record_run(
            migrated_engine,
            result=passed_run(workflow="search", started_at=NOW - timedelta(minutes=minutes)),
        )
    record = get_run(migrated_engine, run_id=failed_id)
    assert record is not None

    detail = client.get(f"/api/monitoring/executions/{failed_id}")
    assert detail.status_code == 200
    assert detail.json()["data"] == run_record_json(record)

    listed = client.get("/api/monitoring/executions", params={"workflow": "search", "limit": 2})
    assert [run["startedAt"] for run in listed.json()["data"]] == [
        "2026-05-20T12:29:00.000Z",
        "2026-05-20T12:28:00.000Z",
    ]
    failed = client.get("/api/monitoring/executions", params={"status": "failed"}).json()["data"]
    assert [run["id"] for run in failed] == [str(failed_id)]
    recent = client.get(
        "/api/monitoring/executions", params={"since": "2026-05-20T12:28:00+00:00"}
    ).json()["data"]
    assert len(recent) == 2
    naive = client.get("/api/monitoring/executions", params={"since": "2026-05-20T12:28:00"})
    assert len(naive.json()["data"]) == 2  # no zone: UTC


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/monitoring/metrics", {"period": "2h"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/metrics", {"period": ""}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/metrics", {"details": "maybe"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions", {"limit": "0"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions", {"limit": "1001"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions", {"limit": "ten"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions", {"status": "broken"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions", {"since": "yesterday"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/executions/not-a-uuid", {}, 400, "INVALID_PARAMETER"),
        (f"/api/monitoring/executions/{uuid.UUID(int=7)}", {}, 404, "EXECUTION_NOT_FOUND"),
        ("/api/monitoring/alerts", {"state": "SLEEPING"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/alerts", {"severity": "LOUD"}, 400, "INVALID_PARAMETER"),
        # PostgreSQL refuses NUL in text: a bad parameter, not a store failure.
        ("/api/monitoring/executions", {"workflow": "log\x00in"}, 400, "INVALID_PARAMETER"),
        ("/api/monitoring/nothing-here", {}, 404, "NOT_FOUND"),
    ],
)
def test_bad_requests_answer_an_error_envelope(
    client: TestClient[Litestar], path: str, params: dict[str, str], status: int, code: str
) -> None:
    _error(client.get(path, params=params), status, code)


def test_request_id_is_echoed_or_made(client: TestClient[Litestar]) -> None:
    given = client.get("/api/health", headers={"X-Request-ID": "req-42"})
    assert given.json()["meta"]["requestId"] == "req-42"
    assert given.headers["X-Request-ID"] == "req-42"
    failed = client.get("/api/monitoring/metrics?period=5m", headers={"X-Request-ID": "req-43"})
    assert failed.json()["meta"]["requestId"] == "req-43"
    made = client.get("/api/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert made.json()["meta"]["requestId"] != "bad id\twith spaces"
    assert len(made.json()["meta"]["requestId"]) == 32


# --- auth ----------------------------------------------------------------------------------

MUTATIONS = [
    ("/api/monitoring/alerts/alert-1/acknowledge", {"by": "alice"}),
    ("/api/monitoring/alerts/alert-1/resolve", None),
    ("/api/monitoring/breakers/checkout@staging/reset", None),
]


@pytest.mark.parametrize(("path", "body"), MUTATIONS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
    ids=["no-token", "wrong-token", "no-scheme", "basic"],
)
def test_mutations_need_the_token(
    migrated_engine: Engine,
    client: TestClient[Litestar],
    path: str,
    body: dict[str, str] | None,
    headers: dict[str, str],
) -> None:
    _alert(migrated_engine)
    _open_breaker(migrated_engine)
    response = client.post(path, json=body, headers=headers)
    _error(response, 401, "UNAUTHORIZED")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.text
    # Nothing changed.
    assert (
        DatabaseBreakerStore(migrated_engine).get_sync("checkout@staging").state
        is BreakerState.OPEN
    )
    alert = client.get("/api/monitoring/alerts").json()["data"][0]
    assert alert["state"] == "ACTIVE"


@pytest.mark.parametrize(("path", "body"), MUTATIONS)
def test_mutations_are_refused_without_a_configured_token(
    migrated_engine: Engine, app_factory: AppFactory, path: str, body: dict[str, str] | None
) -> None:
    _alert(migrated_engine)
    _open_breaker(migrated_engine)
    with TestClient(app_factory(api_token=None)) as client:
        _error(client.post(path, json=body, headers={"Authorization": "Bearer "}), 403, "FORBIDDEN")
        _error(client.post(path, json=body, headers=GOOD), 403, "FORBIDDEN")


def test_mutations_work_with_the_token(
    migrated_engine: Engine, client: TestClient[Litestar]
) -> None:
    _alert(migrated_engine)
    _open_breaker(migrated_engine)

    acked = client.post(MUTATIONS[0][0], json={"by": "alice"}, headers=GOOD)
    assert acked.status_code == 200, acked.text
    assert acked.json()["data"]["state"] == "ACKNOWLEDGED"
    assert acked.json()["data"]["acknowledgedBy"] == "alice"
    assert acked.json()["data"]["acknowledgedAt"] == "2026-05-20T12:30:00.000Z"

    resolved = client.post(MUTATIONS[1][0], headers=GOOD)
    assert resolved.json()["data"]["state"] == "RESOLVED"
    _error(client.post(MUTATIONS[0][0], json={"by": "bob"}, headers=GOOD), 409, "ALERT_RESOLVED")

    reset = client.post(MUTATIONS[2][0], headers=GOOD)
    assert reset.status_code == 200, reset.text
    assert reset.json()["data"] == {
        "name": "checkout@staging",
        "workflowName": "checkout",
        "environment": "staging",
        "state": "CLOSED",
        "consecutiveFailures": 0,
    }
    assert (
        DatabaseBreakerStore(migrated_engine).get_sync("checkout@staging").state
        is BreakerState.CLOSED
    )

    _error(client.post("/api/monitoring/alerts/nope/resolve", headers=GOOD), 404, "ALERT_NOT_FOUND")
    _error(
        client.post("/api/monitoring/breakers/nope@x/reset", headers=GOOD), 404, "BREAKER_NOT_FOUND"
    )
    _error(client.post(MUTATIONS[0][0], json={"by": ""}, headers=GOOD), 400, "INVALID_PARAMETER")
    _error(client.post(MUTATIONS[0][0], content=b"{not json", headers=GOOD), 400, "BAD_REQUEST")


def test_alerts_list_filters_and_hides_nothing_secret(
    migrated_engine: Engine, client: TestClient[Litestar]
) -> None:
    _alert(migrated_engine, "alert-1")
    data = client.get("/api/monitoring/alerts", params={"severity": "CRITICAL"}).json()["data"]
    assert [alert["id"] for alert in data] == ["alert-1"]
    assert data[0]["channels"] == ["SLACK"]  # names only, never Apprise URLs
    assert client.get("/api/monitoring/alerts", params={"state": "RESOLVED"}).json()["data"] == []


# --- health, Prometheus, store down ---------------------------------------------------------


def test_prometheus_metrics_are_in_the_text_format(migrated_engine: Engine, api_url: str) -> None:
    record_run(migrated_engine, result=failed_checkout())
    record_run(migrated_engine, result=passed_run(workflow="search", started_at=NOW))
    _alert(migrated_engine)
    _open_breaker(migrated_engine)

    response = httpx.get(f"{api_url}/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    checkout = (("environment", "staging"), ("workflow", "checkout"))
    assert samples[("wfmon_database_up", ())] == 1
    assert samples[("wfmon_runs_total", tuple(sorted((*checkout, ("status", "failed")))))] == 1
    assert samples[("wfmon_run_duration_seconds_sum", checkout)] == pytest.approx(2.0005)
    assert samples[("wfmon_workflow_up", checkout)] == 0
    assert samples[("wfmon_workflow_consecutive_failures", checkout)] == 1
    assert (
        samples[("wfmon_circuit_breaker_state", tuple(sorted((*checkout, ("state", "OPEN")))))] == 1
    )
    assert samples[("wfmon_alerts_open", (("severity", "CRITICAL"),))] == 1


@pytest.fixture
def down_engine(tmp_path: Path, closed_port_url: str) -> Iterator[Engine]:
    """An engine whose database cannot be reached: PostgreSQL on a port nobody listens on."""
    port = closed_port_url.rsplit(":", 1)[1]
    engine = create_engine_for(f"postgresql+psycopg://wfmon:secret-pw@127.0.0.1:{port}/wfmon")
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    "path",
    [
        "/api/health",
        "/api/monitoring/metrics",
        "/api/monitoring/metrics?period=30d&details=true",
        "/api/monitoring/executions",
        f"/api/monitoring/executions/{uuid.UUID(int=1)}",
        "/api/monitoring/alerts",
    ],
)
def test_a_store_that_is_down_answers_503_without_secrets(down_engine: Engine, path: str) -> None:
    with TestClient(create_app(engine=down_engine, api_token=TOKEN, clock=lambda: NOW)) as client:
        response = client.get(path)
    _error(response, 503, "STORE_UNAVAILABLE")
    assert "secret-pw" not in response.text
    assert "wfmon:" not in response.text


def test_prometheus_reports_a_store_that_is_down(down_engine: Engine) -> None:
    with TestClient(create_app(engine=down_engine, api_token=TOKEN, clock=lambda: NOW)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "wfmon_database_up 0.0" in response.text


def test_health_and_schema(client: TestClient[Litestar]) -> None:
    health = client.get("/api/health").json()
    assert health["success"] is True
    assert health["data"]["status"] == "ok"
    assert health["data"]["database"]["status"] == "up"
    schema = client.get("/schema/openapi.json").json()
    names = {
        operation["operationId"]
        for path in schema["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert len(names) >= 9
    assert "/api/monitoring/metrics" in schema["paths"]
    assert "/api/monitoring/breakers/{name}/reset" in schema["paths"]
