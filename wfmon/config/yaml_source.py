"""YAML text to plain values, plus the line of every document path.

PyYAML's constructor throws marks away, so we compose the node tree and build the
values ourselves, recording for each path the 1-based line of its key (mapping
entries) or of the item (sequence entries). A problem found later at a path is then
reported at that line; a missing key is reported at its parent's line.

Also caught here, because PyYAML silently keeps the last one: duplicate keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from wfmon.config.errors import ConfigIssue

DocPath = tuple[str | int, ...]
ROOT_PATH_NAME = "(root)"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def format_path(path: DocPath) -> str:
    """``("workflows", 0, "assert", 1)`` as ``workflows[0].assert[1]``."""
    text = ""
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else segment
    return text or ROOT_PATH_NAME


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed file: its values and where each path was written."""

    file: str  # as shown in messages
    data: Any
    lines: Mapping[DocPath, int]

    def line(self, path: DocPath) -> int:
        """The line of ``path``, or of its nearest ancestor that was written."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def issue(self, path: DocPath, message: str, *, line: int | None = None) -> ConfigIssue:
        """A ``ConfigIssue`` at ``path`` (its line unless ``line`` is given)."""
        return ConfigIssue(
            self.file, self.line(path) if line is None else line, format_path(path), message
        )


def parse_yaml(text: str, *, file: str) -> tuple[YamlDocument | None, list[ConfigIssue]]:
    """Parse one YAML document; a syntax error yields no document and one issue."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or "invalid YAML"
        issue = ConfigIssue(file, line, ROOT_PATH_NAME, f"YAML syntax error: {problem}")
        return None, [issue]
    except yaml.YAMLError as error:
        return None, [ConfigIssue(file, 1, ROOT_PATH_NAME, f"YAML error: {error}")]
    finally:
        loader.dispose()
    if root is None:
        return YamlDocument(file, None, {(): 1}), []
    builder = _Builder(loader, file)
    builder.lines[()] = root.start_mark.line + 1
    data = builder.build(root, ())
    return YamlDocument(file, data, builder.lines), builder.issues


class _Builder:
    """Walks composed nodes into values, recording lines and structural issues."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self.loader = loader
        self.file = file
        self.lines: dict[DocPath, int] = {}
        self.issues: list[ConfigIssue] = []
        self._active: set[int] = set()  # nodes being built: an alias cycle would recurse

    def _issue(self, node: yaml.Node, path: DocPath, message: str) -> None:
        self.issues.append(
            ConfigIssue(self.file, node.start_mark.line + 1, format_path(path), message)
        )

    def build(self, node: yaml.Node, path: DocPath) -> Any:
        if id(node) in self._active:
            self._issue(node, path, "recursive alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            try:
                return self.loader.construct_object(node)
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or str(error)
                self._issue(node, path, f"YAML error: {problem}")
                return None
        finally:
            self._active.discard(id(node))

    def _sequence(self, node: yaml.SequenceNode, path: DocPath) -> list[Any]:
        items: list[Any] = []
        for index, item in enumerate(node.value):
            self.lines[(*path, index)] = item.start_mark.line + 1
            items.append(self.build(item, (*path, index)))
        return items

    def _mapping(self, node: yaml.MappingNode, path: DocPath) -> dict[str, Any]:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE_TAG:
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    self._issue(
                        key_node,
                        (*path, key_node.value),
                        f"duplicate key '{key_node.value}' (first at line {seen[key_node.value]})",
                    )
                seen.setdefault(key_node.value, line)
        try:
            # Resolves ``<<: *anchor`` merges in place; own keys then override merged ones.
            self.loader.flatten_mapping(node)
        except yaml.MarkedYAMLError as error:
            self._issue(node, path, f"YAML error: {error.problem}")
            return {}
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._issue(key_node, path, "mapping keys must be plain scalars")
                continue
            # The key as written: ``on`` stays "on", ``200`` stays "200".
            key = key_node.value
            child = (*path, key)
            self.lines[child] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, child)
        return result
