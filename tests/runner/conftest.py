"""Fixtures for workflow runs: the target app on a real socket and a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.servers import serve_asgi
from tests.runner.target import TargetLog, create_target


@pytest.fixture
def target() -> Iterator[tuple[str, TargetLog]]:
    """The target app on a real socket, with its request log."""
    log = TargetLog()
    with serve_asgi(create_target(log)) as url:
        yield url, log


@pytest.fixture
def database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, migrated SQLite store that flows write to (via WFMON_DATABASE_URL)."""
    from store import upgrade

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    upgrade(url)
    monkeypatch.setenv("WFMON_DATABASE_URL", url)
    return url
