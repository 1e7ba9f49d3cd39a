"""Typed, path-aware reads of one YAML document that record issues instead of raising.

Every read takes the value and its document path; on a problem it records a
``ConfigIssue`` at that path's line and returns None, so validation carries on and
all problems are reported together.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any

from wfmon.config.errors import ConfigIssue, TemplateSyntaxError
from wfmon.config.templates import Template
from wfmon.config.yaml_source import DocPath, YamlDocument

_ENV_ONLY = re.compile(r"\$\{env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def kind_of(value: Any) -> str:
    """A YAML reader's name for the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, date):
        return "timestamp"
    return type(value).__name__


class Reader:
    """Reads one document; issues and secrets go to lists shared by the whole load."""

    def __init__(
        self,
        document: YamlDocument,
        *,
        environ: Mapping[str, str],
        issues: list[ConfigIssue],
        secrets: set[str],
    ) -> None:
        self.document = document
        self.environ = environ
        self.issues = issues
        self.secrets = secrets

    @property
    def file(self) -> str:
        """The file as shown in messages."""
        return self.document.file

    def line(self, path: DocPath) -> int:
        """Where ``path`` was written."""
        return self.document.line(path)

    def where(self, path: DocPath) -> str:
        """``file:line`` of ``path``, for "first defined at" notes."""
        return f"{self.file}:{self.line(path)}"

    def error(self, path: DocPath, message: str) -> None:
        """Record an issue at ``path``."""
        self.issues.append(self.document.issue(path, message))

    def _expected(self, path: DocPath, what: str, value: Any) -> None:
        self.error(path, f"expected {what}, got {kind_of(value)}")

    def mapping(
        self,
        value: Any,
        path: DocPath,
        *,
        allowed: Collection[str] | None = None,
        required: Collection[str] = (),
    ) -> dict[str, Any] | None:
        """``value`` if it is a mapping; unknown and missing keys are recorded."""
        if not isinstance(value, dict):
            self._expected(path, "a mapping", value)
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.error((*path, key), _unknown_key(key, allowed))
        for key in required:
            if key not in value:
                self.error(path, f"missing required key '{key}'")
        return value

    def sequence(self, value: Any, path: DocPath) -> list[Any] | None:
        """``value`` if it is a list."""
        if not isinstance(value, list):
            self._expected(path, "a list", value)
            return None
        return value

    def string(self, value: Any, path: DocPath, *, non_empty: bool = False) -> str | None:
        """``value`` if it is a string (non-empty when asked)."""
        if not isinstance(value, str):
            self._expected(path, "a string", value)
            return None
        if non_empty and not value.strip():
            self.error(path, "must not be empty")
            return None
        return value

    def boolean(self, value: Any, path: DocPath) -> bool | None:
        """``value`` if it is true or false."""
        if not isinstance(value, bool):
            self._expected(path, "true or false", value)
            return None
        return value

    def integer(self, value: Any, path: DocPath, *, minimum: int | None = None) -> int | None:
        """``value`` if it is an integer, at least ``minimum``."""
        if isinstance(value, bool) or not isinstance(value, int):
            self._expected(path, "an integer", value)
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(
        self,
        value: Any,
        path: DocPath,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        positive: bool = False,
    ) -> float | None:
        """``value`` if it is a number in range (``positive``: strictly above zero)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._expected(path, "a number", value)
            return None
        if positive and value <= 0:
            self.error(path, f"must be greater than 0, got {value}")
            return None
        if minimum is not None and value < minimum:
            self.error(path, f"must be at least {minimum:g}, got {value}")
            return None
        if maximum is not None and value > maximum:
            self.error(path, f"must be at most {maximum:g}, got {value}")
            return None
        return float(value)

    def string_list(self, value: Any, path: DocPath) -> tuple[str, ...] | None:
        """``value`` if it is a list of strings."""
        items = self.sequence(value, path)
        if items is None:
            return None
        strings = [self.string(item, (*path, index)) for index, item in enumerate(items)]
        if any(item is None for item in strings):
            return None
        return tuple(item for item in strings if item is not None)

    def template(self, value: Any, path: DocPath, *, scalars: bool = False) -> Template | None:
        """A ``Template`` from a string (or from any scalar when ``scalars``)."""
        if scalars and isinstance(value, bool):
            value = "true" if value else "false"
        elif scalars and isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            self._expected(path, "a string", value)
            return None
        try:
            template = Template(value, self.environ)
        except TemplateSyntaxError as error:
            self.error(path, str(error))
            return None
        self.secrets.update(template.secrets)
        return template

    def static_string(self, value: Any, path: DocPath) -> str | None:
        """A string whose ``${env.*}`` are resolved now; ``${name}`` is not allowed."""
        template = self.template(value, path)
        if template is None:
            return None
        if template.variables:
            names = ", ".join(sorted(template.variables))
            self.error(path, f"only ${{env.NAME}} can be used here, not ${{name}} ({names})")
            return None
        return template.render({})

    def resolve_env(self, value: Any, path: DocPath) -> Any:
        """``value`` with ``${env.*}`` resolved in every string; other text kept verbatim."""
        if isinstance(value, dict):
            return {key: self.resolve_env(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve_env(item, (*path, index)) for index, item in enumerate(value)]
        if not isinstance(value, str):
            return value

        def substitute(match: re.Match[str]) -> str:
            name, default = match["name"], match["default"]
            found = self.environ.get(name)
            if found:
                self.secrets.add(found)
                return found
            if default is not None:
                return default
            if found is not None:
                return found
            self.error(path, f"environment variable '{name}' is not set")
            return match.group()

        return _ENV_ONLY.sub(substitute, value)


def _unknown_key(key: str, allowed: Collection[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key '{key}'{hint}"
