"""The exceptions of the config package and the one value they carry, ``ConfigIssue``.

Exception tree::

    Exception
    ├── ConfigError             the configuration is invalid; ``.issues`` lists every problem
    ├── ValueError
    │   ├── TemplateSyntaxError  a ``${...}`` is malformed or names an unset env variable
    │   └── ConditionSyntaxError a condition or extraction cannot be parsed
    └── LookupError
        └── MissingVariable      render time: a ``${name}`` has no value in this run

The two ``ValueError`` subclasses are raised by the parsers; the loader turns them into
``ConfigIssue`` values, so a caller of ``load_config`` only ever sees ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One validation problem, located by file, 1-based line and document path."""

    file: str
    line: int
    path: str  # YAML key names, e.g. ``workflows[0].steps[1].assert[0]``
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; ``issues`` holds every problem, sorted by file and line."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class TemplateSyntaxError(ValueError):
    """A malformed ``${...}`` placeholder, or an ``${env.NAME}`` whose variable is unset."""


class ConditionSyntaxError(ValueError):
    """A condition (``status == 200``) or extraction subject that cannot be parsed."""


class MissingVariable(LookupError):
    """A template needs a run-time ``${name}`` that no earlier step provided."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"variable '{name}' is not set")
