"""How long to wait between attempts: exponential backoff with jitter (SPEC §4).

Pure functions over a ``RetryProfile``; no clock, no sleeping. The delay before attempt
``n + 1`` (after attempt ``n`` failed) is::

    base   = min(max_delay_ms, initial_delay_ms * backoff_multiplier ** (n - 1))
    delay  = base * (1 + u),  u ~ Uniform(-jitter_factor, +jitter_factor)
    result = clamp(delay, 0, max_delay_ms)

The jittered value is capped at ``max_delay_ms`` too: the profile's maximum is a promise
to the caller (a step's worst-case duration is computed from it), so jitter may only pull
a capped delay down, never push it past the cap. A server-requested delay
(``Retry-After``) replaces the computed one, unjittered, and is capped the same way.
"""

from __future__ import annotations

import random

from wfmon.config.specs import RetryProfile

__all__ = ["delay_ms", "delay_schedule"]


def _base_delay_ms(profile: RetryProfile, attempt: int) -> float:
    try:
        uncapped = profile.initial_delay_ms * profile.backoff_multiplier ** (attempt - 1)
    except OverflowError:  # huge attempt numbers: the cap applies anyway
        return float(profile.max_delay_ms)
    return float(min(profile.max_delay_ms, uncapped))


def delay_ms(
    profile: RetryProfile,
    *,
    attempt: int,
    rng: random.Random | None = None,
    retry_after_ms: float | None = None,
) -> float:
    """Milliseconds to wait after failed ``attempt`` (1-based); ``rng=None`` means no jitter."""
    if attempt < 1:
        raise ValueError(f"attempt must be >= 1, got {attempt}")
    cap = float(profile.max_delay_ms)
    if retry_after_ms is not None:
        # The server knows when it will take us back: no jitter, but never past our cap.
        return min(cap, max(0.0, retry_after_ms))
    base = _base_delay_ms(profile, attempt)
    if rng is None or profile.jitter_factor == 0:
        return base
    jittered = base * (1.0 + rng.uniform(-profile.jitter_factor, profile.jitter_factor))
    return min(cap, max(0.0, jittered))


def delay_schedule(profile: RetryProfile) -> tuple[float, ...]:
    """The un-jittered delays between the profile's attempts (``max_attempts - 1`` of them)."""
    return tuple(_base_delay_ms(profile, n) for n in range(1, profile.max_attempts))
