"""The condition language: ``SUBJECT OPERATOR [VALUE]``, parsed once, evaluated purely.

A ``Condition`` is parsed when it is built (by the loader, at load time) into a subject,
an operator and an expected value; ``evaluate`` is then a pure function of the
response and the run's variables and never raises for anything a server can send.

Subjects: ``status``, ``response_time`` (ms), ``header.NAME`` (case-insensitive),
``body`` (raw text), ``body.PATH`` (``body.items[0].id``, ``body.items.length``,
``body[0]`` for a top-level array, ``[-1]`` counts from the end).

Values: numbers, ``"double"`` (JSON escapes) or ``'single'`` quoted strings, bare
strings (the rest of the line), ``true``/``false``/``null``, lists ``[200, 201]``
(only with ``in``), and ``${env.X}`` / ``${name}`` placeholders. An unquoted
placeholder behaves as if its value had been written there bare (``"200"`` becomes
the number 200); its value is never re-parsed for placeholders or lists.

Comparison rules (SPEC §2 leaves them to us):

- ``==``/``!=``/``in`` compare numerically when the expected value is an unquoted
  number and the actual value is a number or a string that looks like one (so a JSON
  ``"200"`` equals ``200``); otherwise both sides are compared as text, where JSON
  ``true``/``false``/``null`` read as those words. Quote a value to force text.
- ``<``/``<=``/``>``/``>=`` need a number on both sides; a non-numeric actual fails.
- ``contains``: an element of a JSON array, a key of a JSON object, else a substring.
- ``matches``: ``re.search`` over the actual value's text; the regex is compiled here.
- ``exists``/``!exists``: JSON ``null`` exists; ``body exists`` means a non-empty body.
- A missing path or header fails every operator but ``!exists``; a body that is not
  JSON fails every ``body.PATH`` condition, ``!exists`` included (a non-JSON answer
  where JSON was expected is itself the problem).

``display`` is ``SUBJECT (ACTUAL) OPERATOR [VALUE]`` with the value as written (so
``${env.X}`` stays unresolved) and the actual value truncated to 100 characters; an
actual value containing this condition's own secrets shows them as ``***``.
"""

from __future__ import annotations

import enum
import json
import os
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any, Protocol

from wfmon.config.errors import ConditionSyntaxError, MissingVariable, TemplateSyntaxError
from wfmon.config.templates import Template, Text
from wfmon.results import ConditionResult
from wfmon.secrets import Redactor


class ProbeResponse(Protocol):
    """What conditions and extractions read from an HTTP exchange."""

    status: int
    response_time_ms: float

    def header(self, name: str) -> str | None: ...  # case-insensitive

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...  # raises ValueError when the body is not JSON


class Operator(enum.StrEnum):
    """The operators of SPEC §2."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    CONTAINS = "contains"
    NOT_CONTAINS = "!contains"
    MATCHES = "matches"
    EXISTS = "exists"
    NOT_EXISTS = "!exists"
    IN = "in"


_ORDERING = {Operator.LT, Operator.LE, Operator.GT, Operator.GE}
_UNARY = {Operator.EXISTS, Operator.NOT_EXISTS}


class SubjectKind(enum.StrEnum):
    """Which part of the response a subject reads."""

    STATUS = "status"
    RESPONSE_TIME = "response_time"
    HEADER = "header"
    BODY = "body"
    BODY_PATH = "body_path"


class Absent(enum.Enum):
    """Why a subject has no value; the enum value is what ``display`` shows."""

    MISSING = "<missing>"
    INVALID_JSON = "<invalid JSON>"


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PATH_SEGMENT = re.compile(r"\.(?P<key>[^.\[\]\s]+)|\[(?P<index>-?\d+)\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SUBJECT_TOKEN = re.compile(r"[^\s=!<>]+")
_OPERATOR_TOKEN = re.compile(r"!?[A-Za-z_]+|[=!<>]+")
_DISPLAY_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Subject:
    """A parsed subject such as ``header.Content-Type`` or ``body.items[0].id``."""

    kind: SubjectKind
    source: str
    header: str = ""
    path: tuple[str | int, ...] = ()

    def read(self, response: ProbeResponse) -> Any:
        """The subject's value in ``response``, or an ``Absent`` member."""
        if self.kind is SubjectKind.STATUS:
            return response.status
        if self.kind is SubjectKind.RESPONSE_TIME:
            return response.response_time_ms
        if self.kind is SubjectKind.HEADER:
            value = response.header(self.header)
            return Absent.MISSING if value is None else value
        if self.kind is SubjectKind.BODY:
            return response.text
        try:
            document = response.json()
        except ValueError:
            return Absent.INVALID_JSON
        return _follow(document, self.path)


def parse_subject(text: str) -> Subject:
    """Parse a subject; raises ``ConditionSyntaxError``."""
    if text in ("status", "response_time", "body"):
        return Subject(SubjectKind(text), text)
    if text.startswith("header."):
        name = text.removeprefix("header.")
        if not _HEADER_NAME.fullmatch(name):
            raise ConditionSyntaxError(f"invalid header name in subject '{text}'")
        return Subject(SubjectKind.HEADER, text, header=name)
    if text.startswith(("body.", "body[")):
        return Subject(SubjectKind.BODY_PATH, text, path=_parse_path(text))
    raise ConditionSyntaxError(
        f"unknown subject '{text}': expected status, response_time, header.NAME, body or body.PATH"
    )


def _parse_path(text: str) -> tuple[str | int, ...]:
    segments: list[str | int] = []
    position = len("body")
    while position < len(text):
        match = _PATH_SEGMENT.match(text, position)
        if match is None:
            raise ConditionSyntaxError(f"invalid JSON path '{text}' at column {position + 1}")
        index = match["index"]
        segments.append(int(index) if index is not None else match["key"])
        position = match.end()
    return tuple(segments)


def _follow(document: Any, path: tuple[str | int, ...]) -> Any:
    current = document
    for segment in path:
        if isinstance(segment, str) and isinstance(current, dict) and segment in current:
            current = current[segment]
        elif segment == "length" and isinstance(current, list | dict | str):
            # A real "length" key wins (above); otherwise it is the size.
            current = len(current)
        elif isinstance(current, list) and _is_index(segment, len(current)):
            current = current[int(segment)]
        else:
            return Absent.MISSING
    return current


def _is_index(segment: str | int, size: int) -> bool:
    if isinstance(segment, str):
        if not segment.isdigit():
            return False
        segment = int(segment)
    return -size <= segment < size


@dataclass(frozen=True, slots=True)
class Scalar:
    """A literal expected value; ``quoted`` strings always compare as text."""

    value: str | int | float | bool | None
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class Placeholder:
    """An expected value holding ``${...}``; resolved when the condition is evaluated."""

    template: Template
    quoted: bool = False

    def resolve(self, variables: Mapping[str, str]) -> Scalar:
        """The value as if written in place; raises ``MissingVariable``."""
        rendered = self.template.render(variables)
        return Scalar(rendered, quoted=True) if self.quoted else _bare_scalar(rendered)


Operand = Scalar | Placeholder
Expected = Operand | tuple[Operand, ...]


def _bare_scalar(text: str) -> Scalar:
    if text in ("true", "false"):
        return Scalar(text == "true")
    if text == "null":
        return Scalar(None)
    if _NUMBER.fullmatch(text):
        return Scalar(float(text) if any(c in text for c in ".eE") else int(text))
    return Scalar(text)


def _parse_operand(text: str, *, environ: Mapping[str, str]) -> Operand:
    quoted = text[:1] in ("'", '"')
    if text.startswith('"'):
        try:
            content = json.loads(text)
        except ValueError:
            raise ConditionSyntaxError(f"malformed quoted string {text}") from None
        if not isinstance(content, str):
            raise ConditionSyntaxError(f"malformed quoted string {text}")
    elif text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ConditionSyntaxError(f"malformed quoted string {text}")
        content = text[1:-1].replace("''", "'")
    else:
        content = text
    if "$" in content:
        try:
            template = Template(content, environ)
        except TemplateSyntaxError as error:
            raise ConditionSyntaxError(str(error)) from None
        if any(not isinstance(part, Text) for part in template.parts):
            return Placeholder(template, quoted=quoted)
        content = template.render({})  # only ``$${`` escapes: plain text after all
        return Scalar(content, quoted=True) if quoted else Scalar(content)
    return Scalar(content, quoted=True) if quoted else _bare_scalar(content)


def _split_list(inner: str) -> list[str]:
    items: list[str] = []
    current: list[str] = []
    quote: str | None = None
    escaped = False
    for char in inner:
        if quote is not None:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char == ",":
            items.append("".join(current).strip())
            current = []
        elif char in "[]":
            raise ConditionSyntaxError("nested lists are not supported")
        else:
            current.append(char)
    if quote is not None:
        raise ConditionSyntaxError("unterminated quoted string in list")
    items.append("".join(current).strip())
    if any(not item for item in items):
        raise ConditionSyntaxError("empty item in list")
    return items


def _parse_expected(text: str, *, environ: Mapping[str, str]) -> Expected:
    if text.startswith("["):
        if not text.endswith("]"):
            raise ConditionSyntaxError(f"unclosed list '{text}'")
        inner = text[1:-1]
        if not inner.strip():
            raise ConditionSyntaxError("empty list")
        return tuple(_parse_operand(item, environ=environ) for item in _split_list(inner))
    return _parse_operand(text, environ=environ)


def _split_condition(text: str) -> tuple[str, str, str]:
    """``(subject, operator, value)`` as written; raises ``ConditionSyntaxError``."""
    subject = _SUBJECT_TOKEN.match(text)
    if subject is None:
        raise ConditionSyntaxError(f"missing subject in '{text}'")
    rest = text[subject.end() :].lstrip()
    if not rest:
        raise ConditionSyntaxError(f"missing operator after '{subject.group()}'")
    operator = _OPERATOR_TOKEN.match(rest)
    operator_text = operator.group() if operator else rest.split()[0]
    after = rest[len(operator_text) :]
    if operator_text[-1].isalpha() and after and not after[0].isspace():
        # A word operator glued to its value ('in[200]') is a typo, not an operator.
        operator_text = rest.split()[0]
        after = rest[len(operator_text) :]
    return subject.group(), operator_text, after.strip()


def _parse_condition(
    source: str, *, environ: Mapping[str, str]
) -> tuple[Subject, Operator, Expected | None, re.Pattern[str] | None, str]:
    text = source.strip()
    if not text:
        raise ConditionSyntaxError("empty condition")
    subject_text, operator_text, value_text = _split_condition(text)
    subject = parse_subject(subject_text)
    try:
        operator = Operator(operator_text)
    except ValueError:
        raise ConditionSyntaxError(f"unknown operator '{operator_text}'") from None
    if operator in _UNARY:
        if value_text:
            raise ConditionSyntaxError(f"'{operator}' takes no value, got '{value_text}'")
        return subject, operator, None, None, ""
    if not value_text:
        raise ConditionSyntaxError(f"missing value after '{operator}'")
    if operator is Operator.MATCHES:
        # A regex may start with '[': never read it as a list.
        expected: Expected = _parse_operand(value_text, environ=environ)
        return subject, operator, expected, _compile(expected, value_text), value_text
    expected = _parse_expected(value_text, environ=environ)
    if operator is Operator.IN:
        if not isinstance(expected, tuple):
            raise ConditionSyntaxError("'in' needs a list, e.g. [200, 201]")
    elif isinstance(expected, tuple):
        raise ConditionSyntaxError(f"a list is only allowed with 'in', not '{operator}'")
    if operator in _ORDERING:
        _check_numeric(operator, expected, value_text)
    return subject, operator, expected, None, value_text


def _check_numeric(operator: Operator, expected: Expected, value_text: str) -> None:
    if isinstance(expected, Scalar) and not expected.quoted and _number(expected.value) is not None:
        return
    if (
        isinstance(expected, Placeholder)
        and not expected.quoted
        and (expected.template.variables or _number(expected.resolve({}).value) is not None)
    ):
        return
    raise ConditionSyntaxError(f"'{operator}' needs a number, got {value_text}")


def _compile(expected: Expected, value_text: str) -> re.Pattern[str]:
    if isinstance(expected, Placeholder):
        if expected.template.variables:
            raise ConditionSyntaxError("'matches' needs a pattern known at load time, not ${name}")
        pattern = expected.template.render({})
    elif isinstance(expected, Scalar) and expected.quoted:
        pattern = str(expected.value)
    else:
        pattern = value_text  # bare: exactly as written, even if it looks like a number
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConditionSyntaxError(f"invalid regex: {error}") from None


def _operands(expected: Expected | None) -> tuple[Operand, ...]:
    if expected is None:
        return ()
    return expected if isinstance(expected, tuple) else (expected,)


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed assertion such as ``status == 200``."""

    source: str  # as written: safe to show (env refs unresolved)
    # Where ``${env.*}`` is read from; the loader passes its own, direct use reads the process.
    environ: InitVar[Mapping[str, str] | None] = None
    subject: Subject = field(init=False)
    operator: Operator = field(init=False)
    expected: Expected | None = field(init=False)
    # Compiled from a possibly secret value: kept out of reprs.
    pattern: re.Pattern[str] | None = field(init=False, repr=False)
    value_source: str = field(init=False)  # the value as written, for display

    def __post_init__(self, environ: Mapping[str, str] | None) -> None:
        parsed = _parse_condition(self.source, environ=os.environ if environ is None else environ)
        for name, value in zip(
            ("subject", "operator", "expected", "pattern", "value_source"), parsed, strict=True
        ):
            object.__setattr__(self, name, value)

    @property
    def variables(self) -> frozenset[str]:
        """Run-time variables the expected value needs."""
        return frozenset(
            name
            for operand in _operands(self.expected)
            if isinstance(operand, Placeholder)
            for name in operand.template.variables
        )

    @property
    def secrets(self) -> frozenset[str]:
        """Values this condition read from the environment."""
        return frozenset(
            secret
            for operand in _operands(self.expected)
            if isinstance(operand, Placeholder)
            for secret in operand.template.secrets
        )

    def evaluate(self, response: ProbeResponse, variables: Mapping[str, str]) -> ConditionResult:
        """Evaluate against one response; secrets never appear in ``display``."""
        actual = self.subject.read(response)
        note = ""
        try:
            success = self._holds(actual, variables)
        except MissingVariable as missing:
            success, note = False, f" ({missing})"
        return ConditionResult(
            condition=self.source, display=self._display(actual) + note, success=success
        )

    def _holds(self, actual: Any, variables: Mapping[str, str]) -> bool:
        operator = self.operator
        if actual is Absent.INVALID_JSON:
            return False
        if operator is Operator.EXISTS:
            return actual is not Absent.MISSING and not (
                self.subject.kind is SubjectKind.BODY and actual == ""
            )
        if operator is Operator.NOT_EXISTS:
            return actual is Absent.MISSING or (
                self.subject.kind is SubjectKind.BODY and actual == ""
            )
        if actual is Absent.MISSING:
            return False
        if operator is Operator.MATCHES:
            pattern = self.pattern  # always set by the parser for 'matches'
            return pattern is not None and pattern.search(_text(actual)) is not None
        expected = [
            operand.resolve(variables) if isinstance(operand, Placeholder) else operand
            for operand in _operands(self.expected)
        ]
        if operator is Operator.IN:
            return any(_equals(actual, item) for item in expected)
        (value,) = expected
        if operator is Operator.EQ:
            return _equals(actual, value)
        if operator is Operator.NE:
            return not _equals(actual, value)
        if operator is Operator.CONTAINS:
            return _contains(actual, value)
        if operator is Operator.NOT_CONTAINS:
            return not _contains(actual, value)
        return _ordered(operator, _number(actual), _number(value.value))

    def _display(self, actual: Any) -> str:
        shown = _display_value(actual)
        secrets = self.secrets
        if secrets:
            shown = Redactor(secrets)(shown)
        if len(shown) > _DISPLAY_LIMIT:
            shown = shown[: _DISPLAY_LIMIT - 3] + "..."
        words = [self.subject.source, f"({shown})", str(self.operator)]
        if self.value_source:
            words.append(self.value_source)
        return " ".join(words)

    def __str__(self) -> str:
        return self.source


def _text(value: Any) -> str:
    """A value as text: strings as-is, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _equals(actual: Any, expected: Scalar) -> bool:
    number = expected.value
    if isinstance(number, int | float) and not isinstance(number, bool):
        return _number(actual) == number
    return _text(actual) == _text(expected.value)


def _contains(actual: Any, expected: Scalar) -> bool:
    if isinstance(actual, list):
        return any(_equals(item, expected) for item in actual)
    if isinstance(actual, dict):
        return _text(expected.value) in actual
    return _text(expected.value) in _text(actual)


def _ordered(operator: Operator, actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return False
    if operator is Operator.LT:
        return actual < expected
    if operator is Operator.LE:
        return actual <= expected
    if operator is Operator.GT:
        return actual > expected
    return actual >= expected


def _display_value(value: Any) -> str:
    if isinstance(value, Absent):
        return value.value
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if value == "":
        return '""'
    return _text(value).replace("\r", "\\r").replace("\n", "\\n")


@dataclass(frozen=True, slots=True)
class Extraction:
    """A subject (``body.PATH``, ``header.NAME``, ``status``) whose value becomes a variable."""

    source: str
    subject: Subject = field(init=False)

    def __post_init__(self) -> None:
        subject = parse_subject(self.source.strip())
        if subject.kind is SubjectKind.RESPONSE_TIME:
            raise ConditionSyntaxError(
                "cannot extract response_time: expected status, header.NAME, body or body.PATH"
            )
        object.__setattr__(self, "subject", subject)

    def extract(self, response: ProbeResponse) -> str | None:
        """The value as a string, or None when the subject is absent."""
        value = self.subject.read(response)
        if isinstance(value, Absent) or value is None:
            return None
        return _text(value)

    def __str__(self) -> str:
        return self.source


__all__ = [
    "Absent",
    "Condition",
    "ConditionSyntaxError",
    "Expected",
    "Extraction",
    "Operand",
    "Operator",
    "Placeholder",
    "ProbeResponse",
    "Scalar",
    "Subject",
    "SubjectKind",
    "parse_subject",
]
