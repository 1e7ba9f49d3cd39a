"""Exceptions raised by the store: our faults and broken storage, never expected run failures."""

from __future__ import annotations


class StoreError(Exception):
    """Storage failed: a query, a constraint or a migration went wrong."""


class StoreUnavailable(StoreError):
    """The database could not be reached (refused, unreachable, file not openable)."""
