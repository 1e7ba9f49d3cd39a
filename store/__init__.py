"""Storage: SQLModel tables, engines, migrations and the queries on them (SQLite or PostgreSQL).

Exceptions are for broken storage only; a failed run is data, stored like any other::

    StoreError            a query, constraint or migration failed
    └── StoreUnavailable  the database could not be reached (connect refused, file unopenable,
                          connection lost mid-query)

Naive datetimes and other misuse raise ``ValueError`` before the database is touched.
"""

from __future__ import annotations

from store.alerts import (
    AlertEvent,
    AlertKey,
    AlertStatistics,
    AlertWrite,
    EventKind,
    acknowledge_alert,
    alert_events,
    alert_history,
    alert_statistics,
    apply_alert_decision,
    count_open,
    delivery_kind,
    get_alert,
    list_alerts,
    open_alerts,
    resolve_alert,
)
from store.breakers import DatabaseBreakerStore, breaker_key, split_breaker_key
from store.database import DEFAULT_DATABASE_URL, create_engine_for, database_url_from_env
from store.errors import StoreError, StoreUnavailable
from store.migrate import current_revision, head_revision, upgrade
from store.outbox import (
    Delivery,
    DeliveryKind,
    DeliveryRequest,
    DeliveryStatus,
    claim_due,
    count_by_status,
    enqueue,
    list_deliveries,
    mark_failed,
    mark_retry,
    mark_sent,
)
from store.records import alert_json, json_timestamp, run_record_json
from store.runs import RunRecord, count_runs, get_run, list_runs, record_run

__all__ = [
    "DEFAULT_DATABASE_URL",
    "AlertEvent",
    "AlertKey",
    "AlertStatistics",
    "AlertWrite",
    "DatabaseBreakerStore",
    "Delivery",
    "DeliveryKind",
    "DeliveryRequest",
    "DeliveryStatus",
    "EventKind",
    "RunRecord",
    "StoreError",
    "StoreUnavailable",
    "acknowledge_alert",
    "alert_events",
    "alert_history",
    "alert_json",
    "alert_statistics",
    "apply_alert_decision",
    "breaker_key",
    "claim_due",
    "count_by_status",
    "count_open",
    "count_runs",
    "create_engine_for",
    "current_revision",
    "database_url_from_env",
    "delivery_kind",
    "enqueue",
    "get_alert",
    "get_run",
    "head_revision",
    "json_timestamp",
    "list_alerts",
    "list_deliveries",
    "list_runs",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "open_alerts",
    "record_run",
    "resolve_alert",
    "run_record_json",
    "split_breaker_key",
    "upgrade",
]
