"""``wfmon alerts list / ack / resolve`` on a real SQLite store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rules import rules_from_config
from store import get_alert, get_run, record_run, upgrade
from tasks.alerting import AlertPolicy, evaluate_run
from tasks.record import engine_for
from tests.cli.test_cli import WIDE
from tests.store.examples import failed_checkout
from wfmon.cli import app


@pytest.fixture
def alert_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A store with one ACTIVE alert (a failed critical run), the CLI pointed at it."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    monkeypatch.setenv("WFMON_DATABASE_URL", url)
    upgrade(url)
    engine = engine_for(url)
    record = get_run(engine, run_id=record_run(engine, result=failed_checkout()))
    assert record is not None
    [decided] = evaluate_run(engine, record, policy=AlertPolicy(rules=tuple(rules_from_config([]))))
    assert decided.alert_id is not None
    return decided.alert_id


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["alerts", *args], env=WIDE)
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_the_alert_as_a_table_and_as_json(alert_id: str) -> None:
    code, table, _ = invoke("list")
    assert code == 0
    assert alert_id in table and "workflow-failure-critical" in table and "ACTIVE" in table

    code, text, _ = invoke("list", "--json", "--state", "active", "--severity", "critical")
    assert code == 0
    [alert] = json.loads(text)
    assert (alert["id"], alert["state"], alert["severity"]) == (alert_id, "ACTIVE", "CRITICAL")
    assert alert["details"]["failedCondition"] == "status (503) == 200"


def test_list_filters(alert_id: str) -> None:
    code, text, _ = invoke("list", "--json", "--state", "resolved")
    assert (code, json.loads(text)) == (0, [])
    code, text, _ = invoke("list", "--json", "--workflow", "login")
    assert (code, json.loads(text)) == (0, [])


def test_ack_then_resolve(alert_id: str) -> None:
    code, text, _ = invoke("ack", alert_id, "--by", "alice")
    assert (code, text.strip()) == (0, f"alert {alert_id} acknowledged by alice")
    code, text, _ = invoke("resolve", alert_id)
    assert (code, text.strip()) == (0, f"alert {alert_id} resolved")

    engine = engine_for(os.environ["WFMON_DATABASE_URL"])
    alert = get_alert(engine, alert_id=alert_id)
    assert alert is not None
    assert (alert.state.value, alert.acknowledged_by) == ("RESOLVED", "alice")


def test_acknowledging_a_resolved_alert_is_refused(alert_id: str) -> None:
    assert invoke("resolve", alert_id)[0] == 0

    code, _, error = invoke("ack", alert_id)

    assert code == 2
    assert "resolved and cannot be acknowledged" in error


@pytest.mark.parametrize("command", ["ack", "resolve"])
def test_an_unknown_id_exits_2(alert_id: str, command: str) -> None:
    code, _, error = invoke(command, "no-such-alert")
    assert code == 2
    assert "no alert has id 'no-such-alert'" in error


def test_a_bad_state_is_a_usage_error(alert_id: str) -> None:
    code, _, error = invoke("list", "--state", "sleeping")
    assert code == 2
    assert "--state" in error
