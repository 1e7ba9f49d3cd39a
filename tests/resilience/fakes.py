"""Test doubles for the resilience tests: a clock that only moves when told or slept on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """An injected clock; ``sleep``/``sleep_sync`` record the delay and advance time instead."""

    now: datetime = T0
    slept_ms: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += timedelta(milliseconds=ms)

    def at(self, ms: float) -> datetime:
        """The instant ``ms`` after T0."""
        return T0 + timedelta(milliseconds=ms)

    def sleep_sync(self, seconds: float) -> None:
        self.slept_ms.append(seconds * 1000.0)
        self.advance(seconds * 1000.0)

    async def sleep(self, seconds: float) -> None:
        self.sleep_sync(seconds)
