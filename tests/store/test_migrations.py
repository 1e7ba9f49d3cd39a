"""Migrations: empty database to head on both backends, idempotent, and in step with the tables."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select
from sqlmodel import Session, SQLModel

import store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from store.database import create_engine_for
from store.latency import duration_bucket, percentile_buckets
from store.migrate import current_revision, head_revision, upgrade
from wfmon.results import RunStatus

EXPECTED_INDEXES = {
    "runs": {
        "ix_runs_started_at": (["started_at"], False),
        "ix_runs_workflow_started_at": (["workflow", "started_at"], False),
    },
    "step_results": {"ix_step_results_run_id_position": (["run_id", "position"], True)},
}


def test_empty_database_upgrades_to_head_with_tables_and_indexes(database_url: str) -> None:
    assert current_revision(database_url) is None

    upgrade(database_url)

    assert current_revision(database_url) == head_revision()
    engine = create_engine_for(database_url)
    try:
        inspector = inspect(engine)
        assert {"runs", "step_results", "alembic_version"} <= set(inspector.get_table_names())
        for table, expected in EXPECTED_INDEXES.items():
            found = {
                index["name"]: (index["column_names"], bool(index["unique"]))
                for index in inspector.get_indexes(table)
            }
            assert found == expected
        (foreign_key,) = inspector.get_foreign_keys("step_results")
        assert foreign_key["referred_table"] == "runs"
        assert foreign_key["constrained_columns"] == ["run_id"]
        assert foreign_key["options"].get("ondelete") == "CASCADE"
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)

    assert current_revision(database_url) == head_revision()


def test_head_matches_the_sqlmodel_tables(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, SQLModel.metadata)

    assert diffs == []


def test_downgrade_to_base_and_back(database_url: str) -> None:
    # Through Alembic's own command and env.py's URL path (no shared connection).
    from alembic import command

    from store.migrate import alembic_config

    upgrade(database_url)
    command.downgrade(alembic_config(database_url), "base")
    engine = create_engine_for(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert current_revision(database_url) is None

    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


def test_upgrade_to_head_rebuilds_the_rollups_of_stored_runs(database_url: str) -> None:
    # Runs stored before 0006 get its latency totals, all-workflows series and state rows.
    upgrade(database_url, "0005")
    start = datetime(2026, 4, 2, 9, tzinfo=UTC)
    stored = [
        ("login", RunStatus.PASSED, 120.0),
        ("login", RunStatus.FAILED, 480.0),
        ("login", RunStatus.FAILED, 950.0),
        ("search", RunStatus.SKIPPED, 0.0),
        ("search", RunStatus.DEGRADED, 2600.0),
    ]
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(SQLModel.metadata.tables["runs"]),
                [
                    {
                        "id": uuid.uuid4(),
                        "workflow": workflow,
                        "environment": "production",
                        "priority": "high",
                        "status": status.value,
                        "started_at": start + timedelta(minutes=10 * index),
                        "finished_at": start + timedelta(minutes=10 * index, seconds=3),
                        "duration_ms": duration,
                        "attempts": 0 if status is RunStatus.SKIPPED else 1,
                    }
                    for index, (workflow, status, duration) in enumerate(stored)
                ],
            )
        upgrade(database_url)
        with Session(engine) as session:
            overall, by_series = percentile_buckets(session, start=start)
            states = {
                row.workflow: (row.last_status, row.consecutive_failures)
                for row in session.execute(select(SQLModel.metadata.tables["workflow_state"]))
            }
    finally:
        engine.dispose()
    timed = [duration_bucket(duration) for _, status, duration in stored if duration]
    assert overall == (timed[1], timed[3], timed[3])  # nearest rank of 4 buckets
    assert by_series == {("login", "production"): timed[2], ("search", "production"): timed[3]}
    assert states == {"login": ("failed", 2), "search": ("degraded", 0)}
