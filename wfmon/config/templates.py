"""``${env.NAME}``, ``${env.NAME:-default}`` and ``${name}`` substitution.

Environment references are resolved at load time (an unset variable is a validation
error); the values they produced are secrets. ``${name}`` references an extracted
variable and is resolved when the step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# TODO(config helper): implement.


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed string with literal parts, resolved env values and run-time variables."""

    source: str  # as written in the config, ``${env.X}`` unresolved: safe to show

    @property
    def variables(self) -> frozenset[str]:
        """Names of the run-time variables this template needs."""
        raise NotImplementedError

    def render(self, variables: Mapping[str, str]) -> str:
        """The final string; raises ``MissingVariable`` if a variable is unset."""
        raise NotImplementedError


# A JSON body: nested dicts / lists whose string leaves are Templates.
TemplateTree = Any


def render_tree(tree: TemplateTree, variables: Mapping[str, str]) -> Any:
    """Render every Template leaf of a JSON body."""
    raise NotImplementedError
