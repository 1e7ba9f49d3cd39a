"""``load_config``: read ``wfmon.yaml`` (a file, or a directory of ``*.yaml``), validate it all.

Validation is all-or-nothing: every problem in every file is collected, sorted by
file and line, and raised together as one ``ConfigError``; no spec is returned
unless the whole configuration is valid.

Decisions where SPEC §2 is silent:

- A directory merges its ``*.yaml`` files (sorted by name; ``*.yml`` and
  subdirectories are ignored). Lists (``workflows``, ``alert_rules``,
  ``maintenance``) are concatenated; mappings (``environments``, ``retry_profiles``,
  ``channels``, ``alert_engine``) are merged, and a name defined in two files is an
  error naming the other file, as is a duplicate workflow name or alert rule ``id``.
  ``default_environment`` may be set by one file only. An empty file adds nothing.
- If any file is not valid YAML, only the syntax errors are reported: checking the
  rest against a partial configuration would report errors that are not there.
- ``default_environment`` may be omitted when exactly one environment is defined.
- ``Config.retry_profiles`` holds the effective profiles: built-ins (with aliases)
  plus the file's overrides and additions.
- ``${env.*}`` is resolved in request fields, ``assert`` values, ``base_url``,
  ``channels`` and in every string of ``alert_rules``, ``alert_engine`` and
  ``maintenance`` (where other ``${...}`` text is left for their owner to read);
  names, descriptions and tags are plain text.
- Top-level keys starting with ``x-`` are ignored: they hold YAML anchors to reuse
  with ``*alias`` and ``<<: *alias`` (as in docker compose). Anchors, aliases and
  merge keys work anywhere; a duplicate key in one mapping is an error.
- A missing key is reported at its parent's line with the parent's path, e.g.
  ``workflows[0]: missing required key 'steps'``; a file-level problem at line 1 with
  the path ``(root)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rules import (
    RuleError,
    import_callable,
    rules_from_config,
    settings_from_config,
    silences_from_config,
)
from wfmon.channels import url_problem
from wfmon.config.errors import ConfigError, ConfigIssue
from wfmon.config.profiles import INLINE, effective_profiles, profile_base
from wfmon.config.reader import Reader
from wfmon.config.specs import Config, EnvironmentSpec, RetryProfile, WorkflowSpec
from wfmon.config.workflows import WORKFLOW_NAME, read_retry_profile, read_workflow
from wfmon.config.yaml_source import ROOT_PATH_NAME, DocPath, YamlDocument, parse_yaml

DEFAULT_CONFIG_PATH = Path("wfmon.yaml")
CONFIG_ENV_VAR = "WFMON_CONFIG"

TOP_LEVEL_KEYS = frozenset(
    {
        "environments",
        "default_environment",
        "workflows",
        "retry_profiles",
        "alert_rules",
        "alert_engine",
        "channels",
        "maintenance",
    }
)


def resolve_config_path(cli_value: str | None, *, environ: Mapping[str, str] | None = None) -> Path:
    """``--config`` if given, else ``$WFMON_CONFIG``, else ``./wfmon.yaml``."""
    if cli_value:
        return Path(cli_value)
    from_env = (os.environ if environ is None else environ).get(CONFIG_ENV_VAR)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> Config:
    """Load and validate the config at ``path``; raises ``ConfigError`` listing every issue."""
    documents, issues = _read_documents(Path(path))
    loader = _Loader(documents, environ=os.environ if environ is None else environ, issues=issues)
    config = loader.load()
    if loader.issues or config is None:
        # Stable sort: issues on one line keep the order they were found in.
        raise ConfigError(sorted(loader.issues, key=lambda issue: (issue.file, issue.line)))
    return config


def _read_documents(path: Path) -> tuple[list[YamlDocument], list[ConfigIssue]]:
    """Every document under ``path`` and its structural issues; raises on syntax errors."""
    if path.is_dir():
        files = sorted(file for file in path.glob("*.yaml") if file.is_file())
        if not files:
            raise ConfigError(
                [ConfigIssue(str(path), 1, ROOT_PATH_NAME, "no *.yaml files in directory")]
            )
    elif path.exists():
        files = [path]
    else:
        raise ConfigError([ConfigIssue(str(path), 1, ROOT_PATH_NAME, "no such file or directory")])
    documents: list[YamlDocument] = []
    issues: list[ConfigIssue] = []
    fatal: list[ConfigIssue] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fatal.append(ConfigIssue(str(file), 1, ROOT_PATH_NAME, f"cannot read: {error}"))
            continue
        document, found = parse_yaml(text, file=str(file))
        if document is None:
            fatal.extend(found)
        else:
            documents.append(document)
            issues.extend(found)
    if fatal:
        # Checking the other files against a partial config would report phantom errors.
        raise ConfigError(sorted(fatal, key=lambda issue: (issue.file, issue.line)))
    return documents, issues


def _extension_keys(data: Any) -> frozenset[str]:
    # ``x-*`` top-level keys hold YAML anchors to reuse (as in docker compose); ignored.
    if not isinstance(data, dict):
        return frozenset()
    return frozenset(key for key in data if key.startswith("x-"))


@dataclass(frozen=True, slots=True)
class _Origin:
    """Where a name was first defined, for duplicate messages."""

    reader: Reader
    path: DocPath

    def seen_from(self, reader: Reader) -> str:
        line = self.reader.line(self.path)
        if reader is self.reader:
            return f"first defined at line {line}"
        return f"first defined in {self.reader.file}:{line}"


Sections = list[tuple[Reader, dict[str, Any]]]


class _Loader:
    """One load: the documents, and the issues and secrets found while reading them."""

    def __init__(
        self,
        documents: list[YamlDocument],
        *,
        environ: Mapping[str, str],
        issues: list[ConfigIssue],
    ) -> None:
        self.issues = issues
        self.secrets: set[str] = set()
        self.readers = [
            Reader(document, environ=environ, issues=issues, secrets=self.secrets)
            for document in documents
        ]

    def load(self) -> Config | None:
        sections: Sections = []
        for reader in self.readers:
            data = reader.document.data
            allowed = TOP_LEVEL_KEYS | _extension_keys(data)
            top = reader.mapping({} if data is None else data, (), allowed=allowed)
            if top is not None:
                sections.append((reader, top))
        environments, environment_names = self._environments(sections)
        default = self._default_environment(sections, environment_names)
        profiles = effective_profiles(self._retry_profiles(sections))
        workflows = self._workflows(sections, profiles)
        channels = self._channels(sections)
        alert_rules = self._alert_rules(sections)
        alert_engine = self._alert_engine(sections)
        maintenance = self._maintenance(sections)
        if self.issues or default is None:
            return None
        return Config(
            environments=environments,
            default_environment=default,
            workflows=tuple(workflows),
            retry_profiles=profiles,
            alert_rules=tuple(alert_rules),
            alert_engine=alert_engine,
            channels=channels,
            maintenance=tuple(maintenance),
            secrets=frozenset(self.secrets),
        )

    def _missing(self, sections: Sections, key: str, why: str = "") -> None:
        if not sections:
            return  # the top level itself was wrong: already reported
        reader = sections[0][0]
        where = " (no file sets it)" if len(self.readers) > 1 else ""
        reader.error((), f"missing required key '{key}'{why}{where}")

    def _named_entries(
        self, sections: Sections, key: str, what: str
    ) -> tuple[list[tuple[Reader, DocPath, str, Any]], bool]:
        """A name-keyed section's entries over every file, duplicates reported.

        The flag says whether any file gave the section as a mapping.
        """
        entries: list[tuple[Reader, DocPath, str, Any]] = []
        origins: dict[str, _Origin] = {}
        present = False
        for reader, top in sections:
            if key not in top:
                continue
            mapping = reader.mapping(top[key], (key,))
            present = present or mapping is not None
            for name, raw in (mapping or {}).items():
                at = (key, name)
                if name in origins:
                    seen = origins[name].seen_from(reader)
                    reader.error(at, f"duplicate {what} '{name}' ({seen})")
                    continue
                origins[name] = _Origin(reader, at)
                entries.append((reader, at, name, raw))
        return entries, present

    def _environments(
        self, sections: Sections
    ) -> tuple[dict[str, EnvironmentSpec], frozenset[str]]:
        entries, present = self._named_entries(sections, "environments", "environment")
        if not any("environments" in top for _, top in sections):
            self._missing(sections, "environments")
        elif present and not entries:
            reader = next(reader for reader, top in sections if "environments" in top)
            reader.error(("environments",), "at least one environment is required")
        environments: dict[str, EnvironmentSpec] = {}
        for reader, at, name, raw in entries:
            environment = self._environment(reader, raw, at, name)
            if environment is not None:
                environments[name] = environment
        return environments, frozenset(name for _, _, name, _ in entries)

    def _environment(
        self, reader: Reader, raw: Any, path: DocPath, name: str
    ) -> EnvironmentSpec | None:
        mapping = reader.mapping(raw, path, allowed=("base_url",), required=("base_url",))
        if mapping is None or "base_url" not in mapping:
            return None
        at = (*path, "base_url")
        base_url = reader.static_string(mapping["base_url"], at)
        if base_url is None:
            return None
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # The value as written: a resolved ${env.*} is a secret.
            written = mapping["base_url"]
            reader.error(at, f"base_url must be an absolute http(s) URL, got '{written}'")
            return None
        return EnvironmentSpec(name=name, base_url=base_url)

    def _default_environment(self, sections: Sections, names: frozenset[str]) -> str | None:
        found = [(reader, top) for reader, top in sections if "default_environment" in top]
        path: DocPath = ("default_environment",)
        if not found:
            if len(names) == 1:
                return next(iter(names))
            if names:
                self._missing(
                    sections,
                    "default_environment",
                    " (needed when more than one environment is defined)",
                )
            return None
        first_reader, top = found[0]
        for reader, _ in found[1:]:
            seen = _Origin(first_reader, path).seen_from(reader)
            reader.error(path, f"default_environment is set twice ({seen})")
        value = first_reader.string(top["default_environment"], path)
        if value is not None and names and value not in names:
            known = ", ".join(sorted(names))
            first_reader.error(path, f"unknown environment '{value}' (defined: {known})")
            return None
        return value

    def _retry_profiles(self, sections: Sections) -> dict[str, RetryProfile]:
        entries, _ = self._named_entries(sections, "retry_profiles", "retry profile")
        overrides: dict[str, RetryProfile] = {}
        for reader, at, name, raw in entries:
            if name == INLINE:
                reader.error(at, f"'{INLINE}' is reserved for retry mappings written in place")
                continue
            profile = read_retry_profile(reader, raw, at, base=profile_base(name))
            if profile is not None:
                overrides[name] = profile
        return overrides

    def _workflows(
        self, sections: Sections, profiles: Mapping[str, RetryProfile]
    ) -> list[WorkflowSpec]:
        items: list[tuple[Reader, DocPath, Any]] = []
        present = False
        for reader, top in sections:
            if "workflows" not in top:
                continue
            present = True
            raw_items = reader.sequence(top["workflows"], ("workflows",))
            items.extend(
                (reader, ("workflows", index), raw) for index, raw in enumerate(raw_items or [])
            )
        if not present:
            self._missing(sections, "workflows")
        # All names first, so depends_on may point forward and across files.
        origins: dict[str, _Origin] = {}
        for reader, path, raw in items:
            name = raw.get("name") if isinstance(raw, dict) else None
            if not isinstance(name, str) or not WORKFLOW_NAME.fullmatch(name):
                continue
            if name in origins:
                seen = origins[name].seen_from(reader)
                reader.error((*path, "name"), f"duplicate workflow name '{name}' ({seen})")
            else:
                origins[name] = _Origin(reader, (*path, "name"))
        workflows = [
            read_workflow(reader, raw, path, workflow_names=origins, profiles=profiles)
            for reader, path, raw in items
        ]
        return [workflow for workflow in workflows if workflow is not None]

    def _channels(self, sections: Sections) -> dict[str, tuple[str, ...]]:
        entries, _ = self._named_entries(sections, "channels", "channel")
        channels: dict[str, tuple[str, ...]] = {}
        for reader, at, name, raw in entries:
            urls = reader.sequence(raw, at)
            if urls is None:
                continue
            resolved = [reader.static_string(url, (*at, index)) for index, url in enumerate(urls)]
            for index, url in enumerate(resolved):
                problem = None if url is None else url_problem(url)
                if problem is not None:
                    reader.error((*at, index), problem)
            channels[name] = tuple(url for url in resolved if url is not None)
        return channels

    def _raw_list(
        self, sections: Sections, key: str
    ) -> list[tuple[Reader, DocPath, dict[str, Any]]]:
        """Entries of a list-of-mappings section, kept raw, ``${env.*}`` resolved."""
        entries: list[tuple[Reader, DocPath, dict[str, Any]]] = []
        for reader, top in sections:
            if key not in top:
                continue
            for index, raw in enumerate(reader.sequence(top[key], (key,)) or []):
                at = (key, index)
                if reader.mapping(raw, at) is not None:
                    entries.append((reader, at, reader.resolve_env(raw, at)))
        return entries

    def _alert_rules(self, sections: Sections) -> list[dict[str, Any]]:
        entries = self._raw_list(sections, "alert_rules")
        origins: dict[str, _Origin] = {}
        unique: list[tuple[Reader, DocPath, dict[str, Any]]] = []
        for reader, at, rule in entries:
            rule_id = rule.get("id")
            if isinstance(rule_id, str) and rule_id in origins:
                seen = origins[rule_id].seen_from(reader)
                reader.error((*at, "id"), f"duplicate alert rule id '{rule_id}' ({seen})")
                continue
            if isinstance(rule_id, str):
                origins[rule_id] = _Origin(reader, (*at, "id"))
            unique.append((reader, at, rule))
        raw = [rule for _, _, rule in unique]
        try:
            rules_from_config(raw, resolve_callable=import_callable)
        except RuleError as error:
            self._report(error, sections, "alert_rules", [(r, at) for r, at, _ in unique])
        return raw

    def _alert_engine(self, sections: Sections) -> dict[str, Any]:
        entries, _ = self._named_entries(sections, "alert_engine", "alert_engine setting")
        settings = {name: reader.resolve_env(raw, at) for reader, at, name, raw in entries}
        try:
            settings_from_config(settings)
        except RuleError as error:
            # Issue paths start with the setting's name: point at that setting's own line.
            where = {name: (reader, at[:-1]) for reader, at, name, _ in entries}
            for issue in error.issues:
                reader, at = where[str(issue.path[0])]
                reader.error((*at, *issue.path), issue.message)
        return settings

    def _maintenance(self, sections: Sections) -> list[dict[str, Any]]:
        entries = self._raw_list(sections, "maintenance")
        windows = [window for _, _, window in entries]
        try:
            silences_from_config(windows)
        except RuleError as error:
            self._report(error, sections, "maintenance", [(r, at) for r, at, _ in entries])
        return windows

    def _report(
        self,
        error: RuleError,
        sections: Sections,
        key: str,
        origins: list[tuple[Reader, DocPath]],
    ) -> None:
        """A ``RuleError`` on a merged list, each issue at its entry's file and line."""
        for issue in error.issues:
            index = issue.path[0] if issue.path else None
            if isinstance(index, int) and index < len(origins):
                reader, at = origins[index]
                reader.error((*at, *issue.path[1:]), issue.message)
            else:  # about a predefined rule as a whole: the section's first line
                reader = next(r for r, top in sections if key in top)
                reader.error((key,), issue.message)
