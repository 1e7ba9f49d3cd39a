"""``${env.NAME}``, ``${env.NAME:-default}`` and ``${name}`` substitution.

Environment references are resolved at load time (an unset variable is a validation
error); the values they produced are secrets. ``${name}`` references an extracted
variable and is resolved when the step runs.

Grammar, decided here because SPEC §2 is silent on the details:

- ``NAME`` and ``name`` are identifiers: ``[A-Za-z_][A-Za-z0-9_]*``.
- ``${env.NAME:-x}`` uses ``x`` when ``NAME`` is unset or empty (shell ``:-`` semantics).
  The default is written in the file, so it is not a secret; an env value is.
- ``$${`` is a literal ``${``; any other ``${`` that is not a well-formed placeholder
  is a syntax error, so a typo never reaches a request as text.
- A template is parsed once into parts; rendering only concatenates them, so a value
  (secret or extracted) that itself contains ``${...}`` is never re-interpreted.

Errors: ``TemplateSyntaxError`` (parse time), ``MissingVariable`` (render time), both
from ``wfmon.config.errors``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import InitVar, dataclass, field
from typing import Any

from wfmon.config.errors import MissingVariable, TemplateSyntaxError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REFERENCE = re.compile(r"env\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.S)


@dataclass(frozen=True, slots=True)
class Text:
    """A literal run of characters."""

    text: str


@dataclass(frozen=True, slots=True)
class EnvValue:
    """An ``${env.NAME}`` resolved at load time."""

    name: str
    value: str = field(repr=False)  # may be a secret: kept out of reprs and tracebacks
    secret: bool  # False when the default written in the file was used


@dataclass(frozen=True, slots=True)
class Variable:
    """An ``${name}`` resolved from extracted variables when the step runs."""

    name: str


TemplatePart = Text | EnvValue | Variable


def parse_parts(source: str, *, environ: Mapping[str, str]) -> tuple[TemplatePart, ...]:
    """Split ``source`` into parts, resolving env references; raises ``TemplateSyntaxError``."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    index = 0
    while True:
        start = source.find("$", index)
        if start < 0:
            literal.append(source[index:])
            break
        literal.append(source[index:start])
        if source.startswith("$${", start):
            literal.append("${")
            index = start + 3
            continue
        if not source.startswith("${", start):
            literal.append("$")
            index = start + 1
            continue
        end = source.find("}", start + 2)
        if end < 0:
            raise TemplateSyntaxError(f"unclosed '${{' at column {start + 1}")
        content = source[start + 2 : end]
        if "${" in content:
            raise TemplateSyntaxError(f"nested placeholders are not supported: '{source[start:]}'")
        if any(literal):
            parts.append(Text("".join(literal)))
        literal = []
        parts.append(_placeholder(content, environ=environ))
        index = end + 1
    if any(literal):
        parts.append(Text("".join(literal)))
    return _merge_text(parts)


def _placeholder(content: str, *, environ: Mapping[str, str]) -> EnvValue | Variable:
    if IDENTIFIER.fullmatch(content) and content != "env":
        return Variable(content)
    reference = _ENV_REFERENCE.fullmatch(content)
    if reference is None:
        raise TemplateSyntaxError(
            f"malformed placeholder '${{{content}}}': expected ${{env.NAME}}, "
            f"${{env.NAME:-default}} or ${{name}}"
        )
    name, default = reference["name"], reference["default"]
    value = environ.get(name)
    if value is not None and (value or default is None):
        return EnvValue(name, value, secret=True)
    if default is not None:
        return EnvValue(name, default, secret=False)
    raise TemplateSyntaxError(f"environment variable '{name}' is not set")


def _merge_text(parts: list[TemplatePart]) -> tuple[TemplatePart, ...]:
    merged: list[TemplatePart] = []
    for part in parts:
        previous = merged[-1] if merged else None
        if isinstance(part, Text) and isinstance(previous, Text):
            merged[-1] = Text(previous.text + part.text)
        else:
            merged.append(part)
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed string with literal parts, resolved env values and run-time variables."""

    source: str  # as written in the config, ``${env.X}`` unresolved: safe to show
    # Where ``${env.*}`` is read from; the loader passes its own, direct use reads the process.
    environ: InitVar[Mapping[str, str] | None] = None
    parts: tuple[TemplatePart, ...] = field(init=False, default=())

    def __post_init__(self, environ: Mapping[str, str] | None) -> None:
        resolved = parse_parts(self.source, environ=os.environ if environ is None else environ)
        object.__setattr__(self, "parts", resolved)

    @property
    def variables(self) -> frozenset[str]:
        """Names of the run-time variables this template needs."""
        return frozenset(part.name for part in self.parts if isinstance(part, Variable))

    @property
    def secrets(self) -> frozenset[str]:
        """The values this template read from the environment (defaults excluded)."""
        return frozenset(
            part.value
            for part in self.parts
            if isinstance(part, EnvValue) and part.secret and part.value
        )

    @property
    def is_static(self) -> bool:
        """True when the template needs no run-time variable."""
        return not self.variables

    @property
    def static_prefix(self) -> str:
        """The resolved text before the first run-time variable (all of it when static)."""
        prefix: list[str] = []
        for part in self.parts:
            if isinstance(part, Variable):
                break
            prefix.append(part.text if isinstance(part, Text) else part.value)
        return "".join(prefix)

    def render(self, variables: Mapping[str, str]) -> str:
        """The final string; raises ``MissingVariable`` if a variable is unset."""
        pieces: list[str] = []
        for part in self.parts:
            if isinstance(part, Text):
                pieces.append(part.text)
            elif isinstance(part, EnvValue):
                pieces.append(part.value)
            elif part.name in variables:
                pieces.append(variables[part.name])
            else:
                raise MissingVariable(part.name)
        return "".join(pieces)

    def __str__(self) -> str:
        return self.source


# A JSON body: dicts with str keys and tuples, whose string leaves are Templates and
# whose other leaves are int, float, bool or None. Keys are not templated.
TemplateTree = Any


def parse_tree(raw: Any, *, environ: Mapping[str, str] | None = None) -> TemplateTree:
    """Turn a YAML/JSON value into a TemplateTree; raises ``TemplateSyntaxError``."""
    if isinstance(raw, str):
        return Template(raw, environ)
    if isinstance(raw, Mapping):
        return {str(key): parse_tree(value, environ=environ) for key, value in raw.items()}
    if isinstance(raw, list | tuple):
        return tuple(parse_tree(item, environ=environ) for item in raw)
    return raw


def tree_templates(tree: TemplateTree) -> list[Template]:
    """Every Template leaf of ``tree``, depth first."""
    if isinstance(tree, Template):
        return [tree]
    if isinstance(tree, Mapping):
        return [leaf for value in tree.values() for leaf in tree_templates(value)]
    if isinstance(tree, tuple | list):
        return [leaf for item in tree for leaf in tree_templates(item)]
    return []


def render_tree(tree: TemplateTree, variables: Mapping[str, str]) -> Any:
    """Render every Template leaf of a JSON body."""
    if isinstance(tree, Template):
        return tree.render(variables)
    if isinstance(tree, Mapping):
        return {key: render_tree(value, variables) for key, value in tree.items()}
    if isinstance(tree, tuple | list):
        return [render_tree(item, variables) for item in tree]
    return tree


__all__ = [
    "IDENTIFIER",
    "EnvValue",
    "MissingVariable",
    "Template",
    "TemplatePart",
    "TemplateSyntaxError",
    "TemplateTree",
    "Text",
    "Variable",
    "parse_parts",
    "parse_tree",
    "render_tree",
    "tree_templates",
]
