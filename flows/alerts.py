"""The alerting flows: ``evaluate-alerts`` after every run, ``alert-maintenance`` every minute.

``evaluate-alerts`` is started by ``monitor-workflow``'s completion hook, once the run's
own final state is set, so it adds nothing to the run's duration; it is a flow run of its
own, named after the workflow and carrying the run's tags. It judges the stored run
(``tasks.alerting``) and sends what that queued (``tasks.dispatch``). ``alert-maintenance``
auto-resolves and escalates open alerts and sends every delivery still due, such as
retries after a receiver was down.

Store calls are retried while the database is unreachable (``tasks.record.in_store``): a
database outage delays alerts, it does not drop them.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.settings import PREFECT_UI_URL

from store import get_run
from tasks.alerting import AlertPolicy, Decided, evaluate_run, tick_alerts
from tasks.dispatch import SendReport, send_due
from tasks.record import engine_for, in_store
from wfmon.config import Config, WorkflowSpec
from wfmon.config.cache import cached_config
from wfmon.settings import Settings

__all__ = ["AlertsReport", "alert_maintenance", "alert_policy", "evaluate_alerts"]


@dataclass(frozen=True, slots=True)
class AlertsReport:
    """What one alerting flow run decided and sent."""

    decided: tuple[Decided, ...]
    sent: SendReport


# id(config) -> (config, policy): cached_config hands back the same Config while its files
# are unchanged, and Config (mappings inside) is not hashable.
_POLICIES: dict[int, tuple[Config, AlertPolicy]] = {}


def alert_policy(config: Config) -> AlertPolicy:
    """The config's alert policy, with this process's link settings; parsed once per config."""
    cached = _POLICIES.get(id(config))
    if cached is None or cached[0] is not config:
        if len(_POLICIES) >= 8:
            _POLICIES.clear()
        policy = AlertPolicy.from_config(
            config, public_url=Settings().public_url, ui_url=PREFECT_UI_URL.value()
        )
        cached = _POLICIES[id(config)] = (config, policy)
    return cached[1]


@flow(
    name="evaluate-alerts",
    flow_run_name="{workflow}",
    description="Judge a finished run by the alert rules; store alerts and send notifications.",
    persist_result=False,
)
async def evaluate_alerts(
    run_id: str, workflow: str, config_path: str | None = None
) -> AlertsReport:
    """Alerts for the stored run ``run_id`` (of ``workflow``, which names the flow run)."""
    config = cached_config(config_path)
    policy = alert_policy(config)
    engine = engine_for(Settings().database_url)
    record = await in_store(
        functools.partial(get_run, engine, run_id=uuid.UUID(run_id)), "read run"
    )
    if record is None:
        raise LookupError(f"no stored run has id {run_id}")
    try:
        spec: WorkflowSpec | None = config.workflow(record.result.workflow)
    except KeyError:  # removed from the config since it ran: judged without its tags
        spec = None
    decided = await in_store(
        functools.partial(
            evaluate_run,
            engine,
            record,
            policy=policy,
            tags=() if spec is None else spec.tags,
            depends_on=() if spec is None else spec.depends_on,
        ),
        f"alerts for {workflow}",
    )
    sent = await send_due(engine, channels=config.channels, redactor=policy.redactor)
    _log(decided, sent)
    return AlertsReport(decided=tuple(decided), sent=sent)


@flow(
    name="alert-maintenance",
    description="Auto-resolve and escalate open alerts; retry notifications still due.",
    persist_result=False,
)
async def alert_maintenance(config_path: str | None = None) -> AlertsReport:
    """One maintenance pass as of now."""
    config = cached_config(config_path)
    policy = alert_policy(config)
    engine = engine_for(Settings().database_url)
    now = datetime.now(UTC)
    decided = await in_store(
        functools.partial(tick_alerts, engine, policy=policy, now=now), "alert maintenance"
    )
    sent = await send_due(engine, channels=config.channels, redactor=policy.redactor)
    _log(decided, sent)
    return AlertsReport(decided=tuple(decided), sent=sent)


def _log(decided: list[Decided], sent: SendReport) -> None:
    logger = get_run_logger()
    for decision in decided:
        what = ", ".join(decision.events) or decision.note or "unchanged"
        logger.info("alert %s (%s): %s", decision.alert_id, decision.rule_id, what)
    if sent.sent or sent.retrying or sent.failed:
        logger.info(
            "notifications: %d sent, %d to retry, %d failed", sent.sent, sent.retrying, sent.failed
        )
    if sent.retrying:
        logger.warning("%d notification(s) failed and will be retried", sent.retrying)
