"""Recorded runs judged by the rules on a real store (``tasks.alerting``), SQLite and PostgreSQL.

The pure state machine has its own step-by-step tests (tests/rules); these check what
reaches the database: one alert per identity, its history, and the queued deliveries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from rules import AlertState, Silence, rules_from_config
from store import (
    DeliveryStatus,
    RunRecord,
    alert_events,
    get_run,
    list_alerts,
    list_deliveries,
    record_run,
)
from tasks.alerting import AlertPolicy, evaluate_run, tick_alerts
from tasks.dispatch import send_due
from tests.fixtures.receivers import Webhook
from tests.store.examples import T0, failed_checkout
from wfmon.results import RunResult, RunStatus
from wfmon.secrets import Redactor

CHANNELS = frozenset({"SLACK", "EMAIL"})


def policy(**changes: object) -> AlertPolicy:
    """The predefined rules, with SLACK and EMAIL configured."""
    base = AlertPolicy(rules=tuple(rules_from_config([])), channels=CHANNELS)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def stored(engine: Engine, run: RunResult) -> RunRecord:
    record = get_run(engine, run_id=record_run(engine, result=run))
    assert record is not None
    return record


def at(minutes: int, *, status: RunStatus = RunStatus.FAILED) -> RunResult:
    started = T0 + timedelta(minutes=minutes)
    return failed_checkout(status=status, started_at=started, finished_at=started)


def test_a_failed_critical_run_opens_one_alert_and_queues_its_channels(
    migrated_engine: Engine,
) -> None:
    record = stored(migrated_engine, at(0))

    [decided] = evaluate_run(migrated_engine, record, policy=policy())

    assert (decided.rule_id, decided.events, decided.deliveries) == (
        "workflow-failure-critical",
        ("opened",),
        2,
    )
    [alert] = list_alerts(migrated_engine)
    assert (alert.state, alert.details.run_id, alert.first_seen) == (
        AlertState.ACTIVE,
        str(record.id),
        record.result.finished_at,
    )
    deliveries = list_deliveries(migrated_engine)
    assert sorted(d.channel for d in deliveries) == ["EMAIL", "SLACK"]
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    assert "Failed condition: status (503) == 200" in deliveries[0].body


def test_judging_the_same_run_again_changes_nothing(migrated_engine: Engine) -> None:
    record = stored(migrated_engine, at(0))
    evaluate_run(migrated_engine, record, policy=policy())

    assert evaluate_run(migrated_engine, record, policy=policy()) == []

    [alert] = list_alerts(migrated_engine)
    assert alert.count == 1
    assert len(list_deliveries(migrated_engine)) == 2


def test_a_repeat_within_the_cooldown_is_counted_not_sent(migrated_engine: Engine) -> None:
    evaluate_run(migrated_engine, stored(migrated_engine, at(0)), policy=policy())

    [decided] = evaluate_run(migrated_engine, stored(migrated_engine, at(1)), policy=policy())

    assert decided.events == ("repeated",)
    [alert] = list_alerts(migrated_engine)
    assert alert.count == 2
    assert len(list_deliveries(migrated_engine)) == 2


def test_a_passing_run_resolves_with_one_notice_per_channel(migrated_engine: Engine) -> None:
    evaluate_run(migrated_engine, stored(migrated_engine, at(0)), policy=policy())

    [decided] = evaluate_run(
        migrated_engine, stored(migrated_engine, at(1, status=RunStatus.PASSED)), policy=policy()
    )

    assert (decided.events, decided.deliveries) == (("resolved",), 2)
    [alert] = list_alerts(migrated_engine)
    assert alert.state is AlertState.RESOLVED
    kinds = sorted(d.kind.value for d in list_deliveries(migrated_engine))
    assert kinds == ["notify", "notify", "resolved", "resolved"]


def test_a_silence_records_the_alert_but_queues_nothing(migrated_engine: Engine) -> None:
    silence = Silence(start=T0 - timedelta(hours=1), duration_ms=7_200_000)

    [decided] = evaluate_run(
        migrated_engine, stored(migrated_engine, at(0)), policy=policy(silences=(silence,))
    )

    assert decided.events == ("opened", "suppressed")
    assert list_deliveries(migrated_engine) == []
    [alert] = list_alerts(migrated_engine)
    events = alert_events(migrated_engine, alert_id=alert.id)
    assert events[-1].note is not None and "maintenance until" in events[-1].note


def test_a_failing_dependency_suppresses_sending(migrated_engine: Engine) -> None:
    record_run(migrated_engine, result=dataclasses.replace(at(0), workflow="login"))

    [decided] = evaluate_run(
        migrated_engine, stored(migrated_engine, at(1)), policy=policy(), depends_on=["login"]
    )

    assert decided.events == ("opened", "suppressed")
    assert list_deliveries(migrated_engine) == []


def test_unconfigured_channels_record_and_send_nothing(migrated_engine: Engine) -> None:
    [decided] = evaluate_run(
        migrated_engine, stored(migrated_engine, at(0)), policy=policy(channels=frozenset())
    )

    assert decided.deliveries == 0
    assert len(list_alerts(migrated_engine)) == 1


def test_a_secret_in_the_run_never_reaches_the_outbox(migrated_engine: Engine) -> None:
    run = dataclasses.replace(at(0), error_message="token hunter2 refused")
    redacting = policy(redactor=Redactor({"hunter2"}))

    evaluate_run(migrated_engine, stored(migrated_engine, run), policy=redacting)

    for delivery in list_deliveries(migrated_engine):
        assert "hunter2" not in delivery.title + delivery.body
        assert "***" in delivery.body


def test_tick_escalates_once_after_the_delay(migrated_engine: Engine) -> None:
    rules = rules_from_config([{"id": "workflow-failure-critical", "escalation_delay_ms": 60_000}])
    escalating = policy(rules=tuple(rules))
    evaluate_run(migrated_engine, stored(migrated_engine, at(0)), policy=escalating)

    early = tick_alerts(migrated_engine, policy=escalating, now=T0 + timedelta(seconds=30))
    [escalated] = tick_alerts(migrated_engine, policy=escalating, now=T0 + timedelta(minutes=2))
    again = tick_alerts(migrated_engine, policy=escalating, now=T0 + timedelta(minutes=3))

    assert early == [] and again == []
    assert (escalated.events, escalated.deliveries) == (("escalated",), 2)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_eight_concurrent_evaluations_open_one_alert_and_send_once_per_channel(
    migrated_engine: Engine, webhook: Webhook
) -> None:
    record = stored(migrated_engine, at(0))
    channels = {"SLACK": [webhook.url], "EMAIL": [webhook.url + "?email=1"]}
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def post_run_flow() -> None:
        try:
            start.wait()
            evaluate_run(migrated_engine, record, policy=policy())
            asyncio.run(
                send_due(migrated_engine, channels=channels, clock=lambda: datetime.now(UTC))
            )
        except BaseException as exc:  # reported below, with the others
            errors.append(exc)

    threads = [threading.Thread(target=post_run_flow) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    [alert] = list_alerts(migrated_engine)
    assert alert.count == 1
    deliveries = list_deliveries(migrated_engine)
    assert sorted(d.channel for d in deliveries) == ["EMAIL", "SLACK"]
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert len(webhook.wait_for(2)) == 2
    assert len(webhook.received) == 2
