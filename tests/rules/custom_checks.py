"""A module for the CUSTOM condition tests to import by name."""

from __future__ import annotations

from rules import Observation


def slow(observation: Observation) -> bool:
    """True when the run took over 5 s."""
    return observation.duration_ms > 5000
