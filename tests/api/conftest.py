"""The API over a real store: a migrated SQLite or PostgreSQL database (``migrated_engine``),
a fixed clock, and the app either in Litestar's test client or on a real 127.0.0.1 server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine

from api import create_app
from tests.fixtures.servers import URLFactory

# A Wednesday, half past noon: periods start at 11:30 (1h), 12:00 the day before (24h),
# midnight on May 13 (7d) and on April 20 (30d).
NOW = datetime(2026, 5, 20, 12, 30, tzinfo=UTC)
TOKEN = "t0ken-for-tests"

AppFactory = Callable[..., Litestar]


@pytest.fixture
def app_factory(migrated_engine: Engine) -> AppFactory:
    """``make(api_token=TOKEN, clock=...)``: the real app on the test's database."""

    def make(
        *, api_token: str | None = TOKEN, clock: Callable[[], datetime] = lambda: NOW
    ) -> Litestar:
        return create_app(engine=migrated_engine, api_token=api_token, clock=clock)

    return make


@pytest.fixture
def client(app_factory: AppFactory) -> Iterator[TestClient[Litestar]]:
    """Litestar's test client over the real app (token ``TOKEN``, clock fixed at ``NOW``)."""
    with TestClient(app_factory()) as test_client:
        yield test_client


@pytest.fixture
def api_url(app_factory: AppFactory, asgi_url_factory: URLFactory) -> str:
    """The app served by uvicorn on 127.0.0.1."""
    return asgi_url_factory(app_factory())
