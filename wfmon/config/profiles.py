"""The built-in retry profiles of SPEC §4, and how ``retry_profiles:`` overrides them.

``critical`` is an alias of ``aggressive`` and ``quick`` of ``fast``: an alias follows
an override of its target unless the alias is overridden itself. A partial profile
mapping is merged over the same-named built-in (or alias), else over the built-in
``standard``; so is an inline ``retry:`` mapping on a workflow. Merging over built-ins
only keeps the result independent of the order in which overrides are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from wfmon.config.specs import RetryProfile

STANDARD = RetryProfile(
    max_attempts=3,
    initial_delay_ms=1000,
    max_delay_ms=30000,
    backoff_multiplier=2.0,
    jitter_factor=0.1,
    enable_circuit_breaker=True,
    circuit_breaker_threshold=5,
    circuit_breaker_reset_time_ms=60000,
)
AGGRESSIVE = RetryProfile(
    max_attempts=5,
    initial_delay_ms=2000,
    max_delay_ms=60000,
    backoff_multiplier=3.0,
    jitter_factor=0.1,
    enable_circuit_breaker=True,
    circuit_breaker_threshold=3,
    circuit_breaker_reset_time_ms=30000,
)
FAST = RetryProfile(
    max_attempts=2,
    initial_delay_ms=500,
    max_delay_ms=5000,
    backoff_multiplier=2.0,
    jitter_factor=0.05,
    enable_circuit_breaker=False,
    circuit_breaker_threshold=10,
    circuit_breaker_reset_time_ms=30000,
)

# alias -> the profile it names
RETRY_PROFILE_ALIASES: Mapping[str, str] = MappingProxyType(
    {"critical": "aggressive", "quick": "fast"}
)

BUILTIN_RETRY_PROFILES: Mapping[str, RetryProfile] = MappingProxyType(
    {
        "standard": STANDARD,
        "aggressive": AGGRESSIVE,
        "critical": AGGRESSIVE,
        "fast": FAST,
        "quick": FAST,
    }
)

# Reserved: ``WorkflowSpec.retry_profile`` says "inline" for a mapping written in place.
INLINE = "inline"


def effective_profiles(overrides: Mapping[str, RetryProfile]) -> dict[str, RetryProfile]:
    """Built-ins with ``overrides`` applied, aliases following their targets."""
    profiles = {**BUILTIN_RETRY_PROFILES, **overrides}
    for alias, target in RETRY_PROFILE_ALIASES.items():
        if alias not in overrides:
            profiles[alias] = profiles[target]
    return profiles


def profile_base(name: str) -> RetryProfile:
    """What a partial ``retry_profiles.<name>`` (or inline) mapping is merged over."""
    return BUILTIN_RETRY_PROFILES.get(name, STANDARD)
