"""The condition language: ``SUBJECT OPERATOR [VALUE]``, parsed once, evaluated purely.

TODO(config helper): implement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from wfmon.results import ConditionResult


class ProbeResponse(Protocol):
    """What conditions and extractions read from an HTTP exchange."""

    status: int
    response_time_ms: float

    def header(self, name: str) -> str | None: ...  # case-insensitive

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...  # raises ValueError when the body is not JSON


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed assertion such as ``status == 200``."""

    source: str  # as written: safe to show (env refs unresolved)

    def evaluate(self, response: ProbeResponse, variables: Mapping[str, str]) -> ConditionResult:
        """Evaluate against one response; secrets never appear in ``display``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Extraction:
    """A subject (``body.PATH``, ``header.NAME``, ``status``) whose value becomes a variable."""

    source: str

    def extract(self, response: ProbeResponse) -> str | None:
        """The value as a string, or None when the subject is absent."""
        raise NotImplementedError
