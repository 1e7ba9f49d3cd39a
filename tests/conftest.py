"""Test session set-up: an isolated Prefect home, and the shared fixture plugins."""

from __future__ import annotations

import os
import tempfile

# Before anything imports prefect: a throwaway home, no analytics, no API server
# unless a test starts one.
_prefect_home = tempfile.mkdtemp(prefix="wfmon-test-prefect-")
os.environ["PREFECT_HOME"] = _prefect_home
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = (
    f"sqlite+aiosqlite:///{_prefect_home}/prefect.db"
)
os.environ.pop("PREFECT_API_URL", None)

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.servers",
    "tests.fixtures.prefect",
    "tests.fixtures.receivers",
]
