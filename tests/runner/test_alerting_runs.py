"""Alerts end to end: real runs on Prefect, real deliveries to a local webhook and SMTP server.

Each run's ``evaluate-alerts`` flow (started by the run's completion hook) judges it and
sends what it queued before ``wfmon run`` returns, so the receivers hold the messages by
the time ``run_one`` is back.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowFilter, FlowFilterName

from flows.alerts import alert_maintenance
from rules import AlertState
from store import (
    DeliveryStatus,
    alert_events,
    count_by_status,
    create_engine_for,
    list_alerts,
    list_deliveries,
)
from tasks.dispatch import send_due
from tests.fixtures.receivers import SmtpServer, Webhook
from tests.runner.target import TargetLog
from tests.runner.test_workflow_runs import run_one
from wfmon.config.cache import cached_config

pytestmark = pytest.mark.prefect

SECRET = "s3cret-checkout-token"


def alerting_config(
    tmp_path: Path, base_url: str, *, channels: dict[str, str], extra: str = ""
) -> str:
    """A critical ``checkout`` workflow whose critical-failure rule goes to ``channels``."""
    channel_lines = "".join(f"  {name}: ['{url}']\n" for name, url in channels.items())
    path = tmp_path / "wfmon.yaml"
    path.write_text(
        f"environments:\n  test: {{base_url: '{base_url}'}}\n"
        "default_environment: test\n"
        + ("channels:\n" + channel_lines if channels else "channels: {}\n")
        + extra
        + "alert_rules:\n"
        f"  - {{id: workflow-failure-critical, channels: [{', '.join(channels)}]}}\n"
        "workflows:\n"
        + textwrap.indent(
            textwrap.dedent(
                """
                - name: checkout
                  priority: critical
                  retry: {max_attempts: 1}
                  steps:
                    - name: pay
                      request:
                        path: /switch/pay
                        headers: {X-Token: "${env.CHECKOUT_TOKEN}"}
                      assert: [status == 200]
                """
            ),
            "  ",
        )
    )
    return str(path)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKOUT_TOKEN", SECRET)
    monkeypatch.setenv("WFMON_PUBLIC_URL", "http://wfmon.test")


async def test_a_failure_sends_one_message_per_channel_and_recovery_one_resolved(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    webhook: Webhook,
    smtp_server: SmtpServer,
    prefect_api: None,
) -> None:
    url, log = target
    config = alerting_config(
        tmp_path, url, channels={"HOOK": webhook.url, "MAIL": smtp_server.apprise_url}
    )
    log.statuses["pay"] = 503

    failed = await run_one(config, "checkout")

    assert failed.result.status.value == "failed"
    [posted] = webhook.wait_for(1)
    [mailed] = smtp_server.wait_for(1)
    title, body = posted["title"], posted["message"]
    assert title.startswith("[CRITICAL] Critical workflow failure: checkout (test)")
    for fact in (
        "Severity: CRITICAL",
        "Workflow: checkout",
        "Environment: test",
        "Failing step: pay",
        "Failed condition: status (503) == 200",
        "Attempts: 1",
        f"Run record: http://wfmon.test/api/monitoring/executions/{failed.id}",
    ):
        assert fact in body, fact
    assert mailed["Subject"] == title
    assert "Failing step: pay" in mailed.get_payload()

    log.statuses["pay"] = 200
    passed = await run_one(config, "checkout")

    assert passed.result.status.value == "passed"
    [_, resolved] = webhook.wait_for(2)
    assert resolved["title"].startswith("[RESOLVED] Critical workflow failure: checkout (test)")
    assert len(smtp_server.wait_for(2)) == 2
    engine = create_engine_for(database_file)
    [alert] = list_alerts(engine)
    assert alert.state is AlertState.RESOLVED
    assert count_by_status(engine)[DeliveryStatus.SENT] == 4
    # Exactly one of each: nothing more arrived while the runs finished.
    assert len(webhook.received) == 2 and len(smtp_server.messages) == 2
    for text in (str(posted), str(resolved), str(mailed)):
        assert SECRET not in text


async def test_each_run_is_judged_by_an_evaluate_alerts_flow_run(
    tmp_path: Path, target: tuple[str, TargetLog], database_file: str, prefect_api: None
) -> None:
    url, log = target
    config = alerting_config(tmp_path, url, channels={})
    log.statuses["pay"] = 503

    record = await run_one(config, "checkout")

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["evaluate-alerts"]))
        )
    mine = [run for run in runs if run.parameters.get("run_id") == str(record.id)]
    assert [(run.name, run.state_name) for run in mine] == [("checkout", "Completed")]
    # Recorded without a channel: the alert is there, nothing was queued.
    engine = create_engine_for(database_file)
    [alert] = list_alerts(engine)
    assert alert.details.run_id == str(record.id)
    assert list_deliveries(engine) == []


async def test_a_receiver_that_is_down_gets_the_message_once_it_is_back(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    webhook: Webhook,
    prefect_api: None,
) -> None:
    url, log = target
    config = alerting_config(tmp_path, url, channels={"HOOK": webhook.url})
    log.statuses["pay"] = 503
    webhook.fail_with(500)

    await run_one(config, "checkout")

    engine = create_engine_for(database_file)
    [delivery] = list_deliveries(engine)
    assert delivery.status is DeliveryStatus.RETRYING
    assert delivery.last_error is not None and "HOOK" in delivery.last_error
    assert webhook.received == []

    # Still down, now refusing connections: a later attempt is stored as retrying again.
    webhook.refuse()
    later = delivery.next_attempt_at + timedelta(seconds=1)
    channels = cached_config(config).channels
    report = await send_due(engine, channels=channels, clock=lambda: later)
    assert (report.sent, report.retrying) == (0, 1)
    [delivery] = list_deliveries(engine)
    assert delivery.status is DeliveryStatus.RETRYING and delivery.attempts == 2

    # Back: the next pass delivers it, exactly once, and nothing is left to send.
    webhook.recover()
    after = delivery.next_attempt_at + timedelta(seconds=1)
    assert (await send_due(engine, channels=channels, clock=lambda: after)).sent == 1
    assert (await send_due(engine, channels=channels, clock=lambda: after)).sent == 0
    [arrived] = webhook.wait_for(1)
    assert arrived["title"].startswith("[CRITICAL]")
    [delivery] = list_deliveries(engine)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
    assert len(webhook.received) == 1


async def test_maintenance_auto_resolves_a_quiet_alert(
    tmp_path: Path,
    target: tuple[str, TargetLog],
    database_file: str,
    webhook: Webhook,
    prefect_api: None,
) -> None:
    url, log = target
    config = alerting_config(
        tmp_path,
        url,
        channels={"HOOK": webhook.url},
        extra="alert_engine: {auto_resolve_after_ms: 1}\n",
    )
    log.statuses["pay"] = 503
    await run_one(config, "checkout")
    webhook.wait_for(1)

    report = await alert_maintenance(config)

    engine = create_engine_for(database_file)
    [alert] = list_alerts(engine)
    assert alert.state is AlertState.RESOLVED
    assert [d.events for d in report.decided] == [("resolved",)]
    [_, resolved] = webhook.wait_for(2)
    assert resolved["title"].startswith("[RESOLVED]")
    assert "auto-resolved" in resolved["message"]
    kinds = [event.kind for event in alert_events(engine, alert_id=alert.id)]
    assert kinds == ["opened", "resolved"]
    assert alert.resolved_at is not None
    assert alert.resolved_at <= datetime.now(UTC)
