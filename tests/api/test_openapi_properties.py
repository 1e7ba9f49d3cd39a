"""Property-based run against the live OpenAPI schema (schemathesis + hypothesis): for any
generated input, valid or not, no 5xx, and every answer conforms to the schema (status code
documented, content type, body), on the real server over a store with data in it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from store import record_run
from store.breakers import DatabaseBreakerStore
from tasks.breaker import Breaker, BreakerState
from tests.api.conftest import NOW, TOKEN
from tests.store.examples import failed_checkout, passed_run

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 30


def _seed(engine: Engine) -> None:
    record_run(engine, result=failed_checkout(started_at=NOW - timedelta(hours=30)))
    for minutes in range(0, 180, 20):
        record_run(
            engine,
            result=passed_run(workflow="search", started_at=NOW - timedelta(minutes=minutes)),
        )
    opened = Breaker(state=BreakerState.OPEN, consecutive_failures=3, opened_at=NOW)
    DatabaseBreakerStore(engine).transition_sync("search@production", lambda _: (opened, None))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_breaks_the_api(migrated_engine: Engine, api_url: str, mode: Any) -> None:
    _seed(migrated_engine)
    schema = schemathesis.openapi.from_url(f"{api_url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    if mode is GenerationMode.NEGATIVE:
        # Invalid input needs something to be invalid: a parameter or a body.
        raw = httpx.get(f"{api_url}/schema/openapi.json").json()["paths"]
        operations = [
            operation
            for operation in operations
            if {"parameters", "requestBody"} & set(raw[operation.path][operation.method.lower()])
        ]
        assert len(operations) >= 6
    exercised = 0
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS
            )

        try:
            check()
        except Unsatisfiable:
            # Only any-string path parameters (an alert id): nothing can be invalid there.
            assert mode is GenerationMode.NEGATIVE, operation.path
            continue
        exercised += 1
    assert exercised >= (4 if mode is GenerationMode.NEGATIVE else len(operations))
