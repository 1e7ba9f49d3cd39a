"""The config package: ``wfmon.yaml`` (SPEC §2) loaded into typed, frozen specs.

``load_config(path)`` reads a file or a directory of ``*.yaml`` files, validates
everything before anything runs, and returns a ``Config``; ``resolve_config_path``
picks the path the CLI means.

Exception tree::

    Exception
    ├── ConfigError             the configuration is invalid; ``.issues`` lists every problem
    ├── ValueError
    │   ├── TemplateSyntaxError  a malformed ``${...}`` or an unset ``${env.NAME}``
    │   └── ConditionSyntaxError a condition or extraction that cannot be parsed
    └── LookupError
        └── MissingVariable      render time: a ``${name}`` with no value in this run

Modules: ``yaml_source`` (YAML to values plus line numbers), ``reader`` (typed reads
that record issues), ``loader`` (files, merging, top-level sections), ``workflows``
(workflow, step and request entries), ``templates``, ``conditions``, ``profiles``
(built-in retry profiles), ``specs`` (the models), ``errors``.
"""

from __future__ import annotations

from wfmon.config.conditions import Condition, Extraction, ProbeResponse
from wfmon.config.errors import (
    ConditionSyntaxError,
    ConfigError,
    ConfigIssue,
    MissingVariable,
    TemplateSyntaxError,
)
from wfmon.config.loader import load_config, resolve_config_path
from wfmon.config.profiles import BUILTIN_RETRY_PROFILES, RETRY_PROFILE_ALIASES
from wfmon.config.specs import (
    Config,
    EnvironmentSpec,
    RequestSpec,
    RetryProfile,
    ScheduleSpec,
    StepSpec,
    WorkflowSpec,
)
from wfmon.config.templates import Template, TemplateTree, render_tree

__all__ = [
    "BUILTIN_RETRY_PROFILES",
    "RETRY_PROFILE_ALIASES",
    "Condition",
    "ConditionSyntaxError",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "EnvironmentSpec",
    "Extraction",
    "MissingVariable",
    "ProbeResponse",
    "RequestSpec",
    "RetryProfile",
    "ScheduleSpec",
    "StepSpec",
    "Template",
    "TemplateSyntaxError",
    "TemplateTree",
    "WorkflowSpec",
    "load_config",
    "render_tree",
    "resolve_config_path",
]
