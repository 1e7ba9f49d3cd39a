"""UTC hours and days, and timestamps read back from aggregates, for the rollup modules."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["day_of", "from_stored", "hour_of"]


def hour_of(moment: datetime) -> datetime:
    """The start of the UTC hour of ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    """The start (midnight) of the UTC day of ``moment``."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def from_stored(value: datetime | str | None) -> datetime | None:
    """An aware UTC value from an aggregate or expression (SQLite gives naive UTC text)."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
