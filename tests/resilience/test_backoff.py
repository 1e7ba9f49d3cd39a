"""Backoff delays: exact un-jittered schedules, jitter bounds, Retry-After and the cap."""

from __future__ import annotations

import random

import pytest

from tasks.backoff import delay_ms, delay_schedule
from tasks.retry import BUILTIN_PROFILES
from wfmon.config.specs import RetryProfile

STANDARD = BUILTIN_PROFILES["standard"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("standard", (1000.0, 2000.0)),
        ("aggressive", (2000.0, 6000.0, 18000.0, 54000.0)),
        ("critical", (2000.0, 6000.0, 18000.0, 54000.0)),
        ("fast", (500.0,)),
        ("quick", (500.0,)),
    ],
)
def test_builtin_schedules(name: str, expected: tuple[float, ...]) -> None:
    assert delay_schedule(BUILTIN_PROFILES[name]) == expected


@pytest.mark.parametrize(
    ("name", "profile", "expected"),
    [
        ("single attempt waits never", RetryProfile(max_attempts=1), ()),
        (
            "capped at max_delay",
            RetryProfile(max_attempts=6, initial_delay_ms=1000, max_delay_ms=5000),
            (1000.0, 2000.0, 4000.0, 5000.0, 5000.0),
        ),
        (
            "multiplier 1 is constant",
            RetryProfile(max_attempts=4, initial_delay_ms=250, backoff_multiplier=1),
            (250.0, 250.0, 250.0),
        ),
    ],
)
def test_schedule_shapes(name: str, profile: RetryProfile, expected: tuple[float, ...]) -> None:
    assert delay_schedule(profile) == expected


@pytest.mark.parametrize(
    ("name", "attempt", "retry_after_ms", "expected"),
    [
        ("first delay", 1, None, 1000.0),
        ("second delay", 2, None, 2000.0),
        ("beyond the cap", 10, None, 30000.0),
        ("overflowing exponent", 100_000, None, 30000.0),
        ("retry-after replaces backoff", 1, 7000.0, 7000.0),
        ("retry-after may be shorter", 3, 10.0, 10.0),
        ("retry-after capped", 1, 999_999.0, 30000.0),
        ("retry-after zero", 1, 0.0, 0.0),
        ("retry-after negative is now", 1, -5.0, 0.0),
    ],
)
def test_delay_without_jitter(
    name: str, attempt: int, retry_after_ms: float | None, expected: float
) -> None:
    assert delay_ms(STANDARD, attempt=attempt, rng=None, retry_after_ms=retry_after_ms) == expected


def test_retry_after_is_not_jittered() -> None:
    rng = random.Random(1)
    draws = {delay_ms(STANDARD, attempt=1, rng=rng, retry_after_ms=1234.0) for _ in range(50)}
    assert draws == {1234.0}


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_is_one_based(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        delay_ms(STANDARD, attempt=attempt, rng=None)


@pytest.mark.parametrize("name", ["standard", "aggressive", "fast"])
def test_jitter_stays_within_factor_and_spreads(name: str) -> None:
    profile = BUILTIN_PROFILES[name]
    rng = random.Random(20260101)
    for attempt, base in enumerate(delay_schedule(profile), start=1):
        draws = [delay_ms(profile, attempt=attempt, rng=rng) for _ in range(1000)]
        low, high = base * (1 - profile.jitter_factor), base * (1 + profile.jitter_factor)
        assert all(low <= d <= high for d in draws)
        assert all(d <= profile.max_delay_ms for d in draws)
        # Actually spread: both halves of the band are reached, and values differ.
        half = base * profile.jitter_factor / 2
        assert min(draws) < base - half
        assert max(draws) > base + half
        assert len(set(draws)) > 900


def test_jitter_never_exceeds_the_cap() -> None:
    # Base equals the cap from attempt 6 on: jitter may only pull the delay down.
    rng = random.Random(7)
    draws = [delay_ms(STANDARD, attempt=6, rng=rng) for _ in range(1000)]
    assert max(draws) == STANDARD.max_delay_ms
    assert min(draws) >= STANDARD.max_delay_ms * (1 - STANDARD.jitter_factor)
    assert sum(d < STANDARD.max_delay_ms for d in draws) > 400


def test_same_seed_same_delays() -> None:
    first = [delay_ms(STANDARD, attempt=2, rng=random.Random(3)) for _ in range(3)]
    assert len(set(first)) == 1
