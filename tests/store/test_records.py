"""The run record JSON of SPEC §6: exact keys, camelCase, UTC timestamps."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from store import RunRecord, json_timestamp, run_record_json
from tests.store.examples import failed_checkout

RUN_KEYS = {
    "id",
    "workflowName",
    "environment",
    "priority",
    "status",
    "startedAt",
    "finishedAt",
    "durationMs",
    "attempts",
    "errorType",
    "errorMessage",
    "failedStep",
    "flowRunId",
    "traceId",
    "steps",
}
STEP_KEYS = {
    "name",
    "status",
    "httpStatus",
    "durationMs",
    "attempts",
    "errorType",
    "errorMessage",
    "conditions",
}
CONDITION_KEYS = {"condition", "display", "success"}


def test_run_record_json_has_exactly_the_spec_keys() -> None:
    record = RunRecord(id=uuid.uuid4(), result=failed_checkout())

    body = run_record_json(record)

    assert set(body) == RUN_KEYS
    assert len(body["steps"]) == 3
    for step in body["steps"]:
        assert set(step) == STEP_KEYS
        for condition in step["conditions"]:
            assert set(condition) == CONDITION_KEYS
    json.dumps(body)  # plain JSON types only


def test_run_record_json_values() -> None:
    run_id = uuid.uuid4()

    body = run_record_json(RunRecord(id=run_id, result=failed_checkout()))

    assert body["id"] == str(run_id)
    assert body["workflowName"] == "checkout"
    assert body["priority"] == "critical"
    assert body["status"] == "failed"
    assert body["startedAt"] == "2026-05-20T12:00:00.123Z"
    assert body["finishedAt"] == "2026-05-20T12:00:02.123Z"
    assert body["durationMs"] == 2000.5
    assert body["attempts"] == 3
    assert body["errorType"] == "ASSERTION"
    assert body["failedStep"] == "pay"
    assert body["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    pay = body["steps"][1]
    assert pay == {
        "name": "pay",
        "status": "failed",
        "httpStatus": 503,
        "durationMs": 1800.0,
        "attempts": 3,
        "errorType": "ASSERTION",
        "errorMessage": "status (503) == 200",
        "conditions": [
            {"condition": "status == 200", "display": "status (503) == 200", "success": False}
        ],
    }
    assert body["steps"][2]["errorType"] is None
    assert body["steps"][2]["conditions"] == []


def test_timestamps_are_utc_with_z_and_fixed_width() -> None:
    plus_two = timezone(timedelta(hours=2))

    assert json_timestamp(datetime(2026, 5, 20, 14, 0, tzinfo=plus_two)) == (
        "2026-05-20T12:00:00.000Z"
    )
