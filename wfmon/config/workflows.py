"""Validation of ``workflows:`` entries into ``WorkflowSpec`` / ``StepSpec`` / ``RequestSpec``.

Each function reads one raw mapping through a ``Reader`` and returns the spec, or
None when it recorded any issue (it still reads on, to report everything at once).

Decisions where SPEC §2 is silent:

- ``${name}`` may only use a variable extracted by an *earlier* step, in the step's
  request and in its ``assert`` values alike (a step's own extractions are not
  visible to its own assertions).
- ``request.path`` must start with ``/`` unless it starts with a ``${name}``.
- ``headers``, ``query`` and ``form`` values may be numbers or booleans; they are
  sent as text (``true``/``false``).
- ``method`` is case-insensitive and stored upper-case.
- Extracted variable names are identifiers (``[A-Za-z_][A-Za-z0-9_]*``), not ``env``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from croniter import croniter

from wfmon.config.conditions import Condition, Extraction
from wfmon.config.errors import ConditionSyntaxError
from wfmon.config.profiles import INLINE, profile_base
from wfmon.config.reader import Reader, kind_of
from wfmon.config.specs import RequestSpec, RetryProfile, ScheduleSpec, StepSpec, WorkflowSpec
from wfmon.config.templates import IDENTIFIER, Template, TemplateTree, Variable
from wfmon.config.yaml_source import DocPath
from wfmon.results import Priority

WORKFLOW_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

WORKFLOW_KEYS = frozenset(
    {
        "name",
        "description",
        "priority",
        "schedule",
        "retry",
        "timeout",
        "degraded_after_ms",
        "depends_on",
        "tags",
        "steps",
    }
)
STEP_KEYS = frozenset({"name", "request", "extract", "assert", "always_run"})
REQUEST_KEYS = frozenset(
    {"method", "path", "url", "headers", "query", "json", "form", "body", "timeout"}
)
SCHEDULE_KEYS = frozenset({"interval", "cron"})
RETRY_KEYS = frozenset(RetryProfile.model_fields)


def read_retry_profile(
    reader: Reader, raw: Any, path: DocPath, *, base: RetryProfile
) -> RetryProfile | None:
    """A (partial) retry profile mapping merged over ``base``."""
    before = len(reader.issues)
    mapping = reader.mapping(raw, path, allowed=RETRY_KEYS)
    if mapping is None:
        return None
    values: dict[str, Any] = {}
    for key, value in mapping.items():
        at = (*path, key)
        checked: Any
        if key == "max_attempts" or key == "circuit_breaker_threshold":
            checked = reader.integer(value, at, minimum=1)
        elif key in ("initial_delay_ms", "max_delay_ms", "circuit_breaker_reset_time_ms"):
            checked = reader.integer(value, at, minimum=0)
        elif key == "backoff_multiplier":
            checked = reader.number(value, at, minimum=1)
        elif key == "jitter_factor":
            checked = reader.number(value, at, minimum=0, maximum=1)
        elif key == "enable_circuit_breaker":
            checked = reader.boolean(value, at)
        else:
            continue  # unknown key: already reported
        values[key] = checked
    if len(reader.issues) > before:
        return None
    profile = base.model_copy(update=values)
    if profile.max_delay_ms < profile.initial_delay_ms:
        reader.error(
            path,
            f"max_delay_ms ({profile.max_delay_ms}) must not be below "
            f"initial_delay_ms ({profile.initial_delay_ms})",
        )
        return None
    return RetryProfile(**profile.model_dump())


def read_workflow(
    reader: Reader,
    raw: Any,
    path: DocPath,
    *,
    workflow_names: Collection[str],
    profiles: Mapping[str, RetryProfile],
) -> WorkflowSpec | None:
    """One ``workflows[i]`` entry; ``workflow_names`` are all names, for ``depends_on``."""
    before = len(reader.issues)
    mapping = reader.mapping(raw, path, allowed=WORKFLOW_KEYS, required=("name", "steps"))
    if mapping is None:
        return None
    fields: dict[str, Any] = {}
    name = None
    if "name" in mapping:
        name = reader.string(mapping["name"], (*path, "name"))
        if name is not None and not WORKFLOW_NAME.fullmatch(name):
            reader.error((*path, "name"), f"invalid workflow name '{name}': use [a-z0-9][a-z0-9-]*")
        fields["name"] = name
    if "description" in mapping:
        fields["description"] = reader.string(mapping["description"], (*path, "description"))
    if "priority" in mapping:
        fields["priority"] = _priority(reader, mapping["priority"], (*path, "priority"))
    if "schedule" in mapping:
        fields["schedule"] = _schedule(reader, mapping["schedule"], (*path, "schedule"))
    if "retry" in mapping:
        fields["retry_profile"], fields["retry"] = _retry(
            reader, mapping["retry"], (*path, "retry"), profiles=profiles
        )
    else:
        fields["retry"] = profiles["standard"]
    if "timeout" in mapping:
        fields["timeout"] = reader.number(mapping["timeout"], (*path, "timeout"), positive=True)
    if mapping.get("degraded_after_ms") is not None:
        fields["degraded_after_ms"] = reader.integer(
            mapping["degraded_after_ms"], (*path, "degraded_after_ms"), minimum=0
        )
    if "depends_on" in mapping:
        fields["depends_on"] = _depends_on(
            reader, mapping["depends_on"], (*path, "depends_on"), name, workflow_names
        )
    if "tags" in mapping:
        fields["tags"] = reader.string_list(mapping["tags"], (*path, "tags"))
    if "steps" in mapping:
        fields["steps"] = _steps(reader, mapping["steps"], (*path, "steps"))
    if len(reader.issues) > before:
        return None
    return WorkflowSpec(**fields)


def _priority(reader: Reader, raw: Any, path: DocPath) -> Priority | None:
    value = reader.string(raw, path)
    if value is None:
        return None
    try:
        return Priority(value)
    except ValueError:
        choices = " | ".join(priority.value for priority in Priority)
        reader.error(path, f"unknown priority '{value}': expected {choices}")
        return None


def _schedule(reader: Reader, raw: Any, path: DocPath) -> ScheduleSpec | None:
    mapping = reader.mapping(raw, path, allowed=SCHEDULE_KEYS)
    if mapping is None:
        return None
    present = SCHEDULE_KEYS & mapping.keys()
    if len(present) != 1:
        reader.error(path, "set exactly one of interval (seconds) or cron")
        return None
    if "interval" in mapping:
        interval = reader.integer(mapping["interval"], (*path, "interval"), minimum=1)
        return None if interval is None else ScheduleSpec(interval=interval)
    cron = reader.string(mapping["cron"], (*path, "cron"))
    if cron is None:
        return None
    if not croniter.is_valid(cron):
        reader.error((*path, "cron"), f"invalid cron expression '{cron}'")
        return None
    return ScheduleSpec(cron=cron)


def _retry(
    reader: Reader, raw: Any, path: DocPath, *, profiles: Mapping[str, RetryProfile]
) -> tuple[str | None, RetryProfile | None]:
    if isinstance(raw, str):
        if raw in profiles:
            return raw, profiles[raw]
        known = ", ".join(sorted(profiles))
        reader.error(path, f"unknown retry profile '{raw}' (known: {known})")
        return None, None
    if isinstance(raw, dict):
        return INLINE, read_retry_profile(reader, raw, path, base=profile_base(INLINE))
    reader.error(path, f"expected a retry profile name or mapping, got {kind_of(raw)}")
    return None, None


def _depends_on(
    reader: Reader,
    raw: Any,
    path: DocPath,
    name: str | None,
    workflow_names: Collection[str],
) -> tuple[str, ...] | None:
    names = reader.string_list(raw, path)
    if names is None:
        return None
    for index, other in enumerate(names):
        if other == name:
            reader.error((*path, index), "a workflow cannot depend on itself")
        elif other not in workflow_names:
            reader.error((*path, index), f"unknown workflow '{other}'")
    return names


def _steps(reader: Reader, raw: Any, path: DocPath) -> tuple[StepSpec, ...] | None:
    items = reader.sequence(raw, path)
    if items is None:
        return None
    if not items:
        reader.error(path, "a workflow needs at least one step")
        return None
    steps: list[StepSpec | None] = []
    first_seen: dict[str, int] = {}
    available: set[str] = set()  # variables extracted by the steps read so far
    for index, item in enumerate(items):
        at = (*path, index)
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in first_seen:
                reader.error(
                    (*at, "name"),
                    f"duplicate step name '{name}' (first at line {first_seen[name]})",
                )
            first_seen.setdefault(name, reader.line((*at, "name")))
        step, extracted = _step(reader, item, at, available=frozenset(available))
        steps.append(step)
        available |= extracted
    if any(step is None for step in steps):
        return None
    return tuple(step for step in steps if step is not None)


def _step(
    reader: Reader, raw: Any, path: DocPath, *, available: frozenset[str]
) -> tuple[StepSpec | None, frozenset[str]]:
    before = len(reader.issues)
    mapping = reader.mapping(raw, path, allowed=STEP_KEYS, required=("name", "request"))
    if mapping is None:
        return None, frozenset()
    fields: dict[str, Any] = {}
    if "name" in mapping:
        fields["name"] = reader.string(mapping["name"], (*path, "name"), non_empty=True)
    if "request" in mapping:
        fields["request"] = _request(
            reader, mapping["request"], (*path, "request"), available=available
        )
    extract: dict[str, Extraction] = {}
    if "extract" in mapping:
        extract = _extract(reader, mapping["extract"], (*path, "extract"))
        fields["extract"] = extract
    if "assert" in mapping:
        fields["assertions"] = _assertions(
            reader, mapping["assert"], (*path, "assert"), available=available
        )
    if "always_run" in mapping:
        fields["always_run"] = reader.boolean(mapping["always_run"], (*path, "always_run"))
    extracted = frozenset(extract)
    if len(reader.issues) > before:
        return None, extracted
    return StepSpec(**fields), extracted


def _extract(reader: Reader, raw: Any, path: DocPath) -> dict[str, Extraction]:
    mapping = reader.mapping(raw, path)
    extractions: dict[str, Extraction] = {}
    for variable, subject in (mapping or {}).items():
        at = (*path, variable)
        if not IDENTIFIER.fullmatch(variable) or variable == "env":
            reader.error(at, f"invalid variable name '{variable}': use [A-Za-z_][A-Za-z0-9_]*")
        text = reader.string(subject, at)
        if text is None:
            continue
        try:
            extractions[variable] = Extraction(text)
        except ConditionSyntaxError as error:
            reader.error(at, str(error))
    return extractions


def _assertions(
    reader: Reader, raw: Any, path: DocPath, *, available: frozenset[str]
) -> tuple[Condition, ...]:
    items = reader.sequence(raw, path)
    conditions: list[Condition] = []
    for index, item in enumerate(items or []):
        at = (*path, index)
        text = reader.string(item, at)
        if text is None:
            continue
        try:
            condition = Condition(text, reader.environ)
        except ConditionSyntaxError as error:
            reader.error(at, str(error))
            continue
        reader.secrets.update(condition.secrets)
        _check_variables(reader, condition.variables, at, available)
        conditions.append(condition)
    return tuple(conditions)


def _check_variables(
    reader: Reader, needed: Collection[str], path: DocPath, available: Collection[str]
) -> None:
    for name in sorted(set(needed) - set(available)):
        reader.error(path, f"variable '${{{name}}}' is not extracted by an earlier step")


def _request(
    reader: Reader, raw: Any, path: DocPath, *, available: frozenset[str]
) -> RequestSpec | None:
    before = len(reader.issues)
    mapping = reader.mapping(raw, path, allowed=REQUEST_KEYS)
    if mapping is None:
        return None
    fields: dict[str, Any] = {}

    def template(key: str) -> Template | None:
        found = reader.template(mapping[key], (*path, key))
        if found is not None:
            _check_variables(reader, found.variables, (*path, key), available)
        return found

    def templates(key: str) -> dict[str, Template] | None:
        values = reader.mapping(mapping[key], (*path, key))
        if values is None:
            return None
        result: dict[str, Template] = {}
        for name, value in values.items():
            at = (*path, key, name)
            found = reader.template(value, at, scalars=True)
            if found is not None:
                _check_variables(reader, found.variables, at, available)
                result[name] = found
        return result

    if "method" in mapping:
        method = reader.string(mapping["method"], (*path, "method"))
        if method is not None and method.upper() not in HTTP_METHODS:
            choices = ", ".join(sorted(HTTP_METHODS))
            reader.error((*path, "method"), f"unknown HTTP method '{method}' (use {choices})")
        fields["method"] = method.upper() if method else None
    targets = [key for key in ("path", "url") if key in mapping]
    if len(targets) != 1:
        reader.error(path, "set exactly one of path (joined to base_url) or url (absolute)")
    if "path" in mapping:
        fields["path"] = found_path = template("path")
        if found_path is not None and not _is_path(found_path):
            reader.error((*path, "path"), f"path must start with '/', got '{found_path.source}'")
    if "url" in mapping:
        fields["url"] = found_url = template("url")
        if found_url is not None and not _is_absolute_url(found_url):
            reader.error(
                (*path, "url"), f"url must be an absolute http(s) URL, got '{found_url.source}'"
            )
    for key in ("headers", "query", "form"):
        if key in mapping:
            fields[key] = templates(key)
    bodies = [key for key in ("json", "form", "body") if key in mapping]
    if len(bodies) > 1:
        reader.error(path, f"set at most one of json, form, body (got {', '.join(bodies)})")
    if "json" in mapping:
        fields["json_body"] = _json_tree(reader, mapping["json"], (*path, "json"), available)
    if "body" in mapping:
        fields["body"] = template("body")
    if "timeout" in mapping:
        fields["timeout"] = reader.number(mapping["timeout"], (*path, "timeout"), positive=True)
    if len(reader.issues) > before:
        return None
    return RequestSpec(**fields)


def _is_path(template: Template) -> bool:
    first = template.parts[0] if template.parts else None
    return isinstance(first, Variable) or template.static_prefix.startswith("/")


def _is_absolute_url(template: Template) -> bool:
    prefix = template.static_prefix
    if template.parts and isinstance(template.parts[0], Variable):
        return True  # decided at run time, e.g. a URL extracted from a previous response
    if template.is_static:
        parts = urlsplit(prefix)
        return parts.scheme in ("http", "https") and bool(parts.netloc)
    return prefix.startswith(("http://", "https://"))


def _json_tree(
    reader: Reader, raw: Any, path: DocPath, available: frozenset[str]
) -> TemplateTree | None:
    if isinstance(raw, dict):
        return {
            key: _json_tree(reader, value, (*path, key), available) for key, value in raw.items()
        }
    if isinstance(raw, list):
        return tuple(
            _json_tree(reader, item, (*path, index), available) for index, item in enumerate(raw)
        )
    if isinstance(raw, str):
        found = reader.template(raw, path)
        if found is not None:
            _check_variables(reader, found.variables, path, available)
        return found
    if raw is None or isinstance(raw, bool | int | float):
        return raw
    if isinstance(raw, date):
        reader.error(path, "a timestamp is not a JSON value: quote it")
    else:
        reader.error(path, f"{kind_of(raw)} is not a JSON value")
    return None
