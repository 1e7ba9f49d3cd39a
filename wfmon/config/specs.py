"""Typed, frozen specs for everything ``wfmon.yaml`` declares (SPEC §2).

The loader validates raw YAML into these models once; nothing downstream re-parses
strings. ``Template`` and ``Condition`` values are already parsed here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wfmon.config.conditions import Condition, Extraction
from wfmon.config.templates import Template, TemplateTree
from wfmon.results import Priority


class Spec(BaseModel):
    """Base for config models: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class RetryProfile(Spec):
    """How a step is retried and when its workflow's breaker opens (SPEC §4)."""

    max_attempts: int = 3
    initial_delay_ms: int = 1000
    max_delay_ms: int = 30000
    backoff_multiplier: float = 2.0
    jitter_factor: float = 0.1
    enable_circuit_breaker: bool = True
    circuit_breaker_threshold: int = 5
    circuit_breaker_reset_time_ms: int = 60000


class ScheduleSpec(Spec):
    """Exactly one of ``interval`` (seconds) or ``cron``."""

    interval: int | None = None
    cron: str | None = None


class EnvironmentSpec(Spec):
    """A target deployment of the monitored application."""

    name: str
    base_url: str


class RequestSpec(Spec):
    """The HTTP request a step sends; strings may hold ``${name}`` placeholders."""

    method: str = "GET"
    path: Template | None = None
    url: Template | None = None
    headers: dict[str, Template] = Field(default_factory=dict)
    query: dict[str, Template] = Field(default_factory=dict)
    json_body: TemplateTree | None = None  # YAML key ``json``
    form: dict[str, Template] | None = None
    body: Template | None = None
    timeout: float = 10.0


class StepSpec(Spec):
    """One step of a workflow."""

    name: str
    request: RequestSpec
    extract: dict[str, Extraction] = Field(default_factory=dict)
    assertions: tuple[Condition, ...] = ()  # YAML key ``assert``
    always_run: bool = False


class WorkflowSpec(Spec):
    """A scripted user journey, run on a schedule."""

    name: str
    description: str = ""
    priority: Priority = Priority.MEDIUM
    schedule: ScheduleSpec = ScheduleSpec(interval=60)
    retry_profile: str = "standard"  # the profile's name, or "inline" for a mapping
    retry: RetryProfile = RetryProfile()
    timeout: float = 30.0
    degraded_after_ms: int | None = None
    depends_on: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    steps: tuple[StepSpec, ...]


class Config(Spec):
    """A whole, validated configuration."""

    environments: dict[str, EnvironmentSpec]
    default_environment: str
    workflows: tuple[WorkflowSpec, ...]
    retry_profiles: dict[str, RetryProfile] = Field(default_factory=dict)
    # Sections owned by the alerting issue: kept raw until its models exist.
    alert_rules: tuple[dict[str, Any], ...] = ()
    alert_engine: dict[str, Any] = Field(default_factory=dict)
    channels: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    maintenance: tuple[dict[str, Any], ...] = ()
    # Every value that came from ``${env.*}``: redacted wherever text leaves the process.
    secrets: frozenset[str] = Field(default=frozenset(), repr=False)  # a repr must not leak them

    def workflow(self, name: str) -> WorkflowSpec:
        """The workflow called ``name``; KeyError if there is none."""
        for spec in self.workflows:
            if spec.name == name:
                return spec
        raise KeyError(name)
