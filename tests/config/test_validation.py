"""``load_config``: all-or-nothing validation, each error located by file, line and path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from wfmon.config import (
    BUILTIN_RETRY_PROFILES,
    Condition,
    Config,
    ConfigError,
    EnvironmentSpec,
    Extraction,
    RequestSpec,
    RetryProfile,
    ScheduleSpec,
    StepSpec,
    Template,
    WorkflowSpec,
    load_config,
    render_tree,
    resolve_config_path,
)
from wfmon.results import Priority

# Every case is this valid config with one thing broken; its lines are:
#  1 environments:
#  2   prod: {base_url: "https://shop.example.com"}
#  3 workflows:
#  4   - name: login
#  5     steps:
#  6       - name: home
#  7         request: {path: /}
VALID = """\
environments:
  prod: {base_url: "https://shop.example.com"}
workflows:
  - name: login
    steps:
      - name: home
        request: {path: /}
"""

ENVIRONMENTS = VALID.split("workflows:")[0]
WORKFLOW_HEAD = ENVIRONMENTS + "workflows:\n  - name: login\n"  # lines 1-4


def with_step(step: str, *, workflow: str = "") -> str:
    """VALID with extra workflow keys (from line 5) and a step replaced (after them)."""
    return (
        WORKFLOW_HEAD + workflow + "    steps:\n" + textwrap.indent(textwrap.dedent(step), " " * 6)
    )


INVALID = [
    # (case, yaml, the one issue expected)
    (
        "syntax error",
        "environments:\n  prod: a: b\n",
        "wfmon.yaml:2: (root): YAML syntax error: mapping values are not allowed here",
    ),
    ("tab indentation", "environments:\n\tprod: {}\n", "wfmon.yaml:2: (root): YAML syntax error:"),
    ("top level is a list", "- a\n- b\n", "wfmon.yaml:1: (root): expected a mapping, got list"),
    (
        "unknown top-level key",
        VALID + "alert_rule: []\n",
        "wfmon.yaml:8: alert_rule: unknown key 'alert_rule' (did you mean 'alert_rules'?)",
    ),
    (
        "duplicate YAML key",
        VALID + "channels: {}\nchannels: {}\n",
        "wfmon.yaml:9: channels: duplicate key 'channels' (first at line 8)",
    ),
    (
        "missing environments",
        "workflows:\n  - name: login\n    steps:\n      - {name: home, request: {path: /}}\n",
        "wfmon.yaml:1: (root): missing required key 'environments'",
    ),
    ("missing workflows", ENVIRONMENTS, "wfmon.yaml:1: (root): missing required key 'workflows'"),
    (
        "empty environments",
        VALID.replace('  prod: {base_url: "https://shop.example.com"}\n', "").replace(
            "environments:", "environments: {}"
        ),
        "wfmon.yaml:1: environments: at least one environment is required",
    ),
    (
        "environments is a list",
        VALID.replace("environments:\n  prod:", "environments:\n  - prod:"),
        "wfmon.yaml:1: environments: expected a mapping, got list",
    ),
    (
        "base_url not http",
        VALID.replace("https://shop.example.com", "ftp://shop.example.com"),
        "wfmon.yaml:2: environments.prod.base_url: base_url must be an absolute http(s) URL, "
        "got 'ftp://shop.example.com'",
    ),
    (
        "unknown key in an environment",
        VALID.replace("{base_url:", "{url: x, base_url:"),
        "wfmon.yaml:2: environments.prod.url: unknown key 'url'",
    ),
    (
        "default_environment not defined",
        VALID + "default_environment: staging\n",
        "wfmon.yaml:8: default_environment: unknown environment 'staging' (defined: prod)",
    ),
    (
        "two environments and no default",
        VALID.replace("environments:\n", "environments:\n  dev: {base_url: 'http://dev'}\n"),
        "wfmon.yaml:1: (root): missing required key 'default_environment' "
        "(needed when more than one environment is defined)",
    ),
    (
        "missing steps",
        WORKFLOW_HEAD + "    description: no steps\n",
        "wfmon.yaml:4: workflows[0]: missing required key 'steps'",
    ),
    (
        "empty steps",
        WORKFLOW_HEAD + "    steps: []\n",
        "wfmon.yaml:5: workflows[0].steps: a workflow needs at least one step",
    ),
    (
        "workflow name not a slug",
        VALID.replace("name: login", "name: User Login"),
        "wfmon.yaml:4: workflows[0].name: invalid workflow name 'User Login': "
        "use [a-z0-9][a-z0-9-]*",
    ),
    (
        "workflow is not a mapping",
        ENVIRONMENTS + "workflows:\n  - login\n",
        "wfmon.yaml:4: workflows[0]: expected a mapping, got string",
    ),
    (
        "duplicate workflow name",
        VALID + "  - name: login\n    steps: [{name: a, request: {path: /}}]\n",
        "wfmon.yaml:8: workflows[1].name: "
        "duplicate workflow name 'login' (first defined at line 4)",
    ),
    (
        "priority",
        with_step("- {name: home, request: {path: /}}\n", workflow="    priority: urgent\n"),
        "wfmon.yaml:5: workflows[0].priority: unknown priority 'urgent': "
        "expected critical | high | medium | low",
    ),
    (
        "timeout not a number",
        with_step("- {name: home, request: {path: /}}\n", workflow="    timeout: soon\n"),
        "wfmon.yaml:5: workflows[0].timeout: expected a number, got string",
    ),
    (
        "timeout zero",
        with_step("- {name: home, request: {path: /}}\n", workflow="    timeout: 0\n"),
        "wfmon.yaml:5: workflows[0].timeout: must be greater than 0, got 0",
    ),
    (
        "degraded_after_ms negative",
        with_step("- {name: home, request: {path: /}}\n", workflow="    degraded_after_ms: -1\n"),
        "wfmon.yaml:5: workflows[0].degraded_after_ms: must be at least 0, got -1",
    ),
    (
        "schedule with interval and cron",
        with_step(
            "- {name: home, request: {path: /}}\n",
            workflow="    schedule: {interval: 60, cron: '* * * * *'}\n",
        ),
        "wfmon.yaml:5: workflows[0].schedule: set exactly one of interval (seconds) or cron",
    ),
    (
        "schedule with neither",
        with_step("- {name: home, request: {path: /}}\n", workflow="    schedule: {}\n"),
        "wfmon.yaml:5: workflows[0].schedule: set exactly one of interval (seconds) or cron",
    ),
    (
        "interval zero",
        with_step("- {name: home, request: {path: /}}\n", workflow="    schedule: {interval: 0}\n"),
        "wfmon.yaml:5: workflows[0].schedule.interval: must be at least 1, got 0",
    ),
    (
        "invalid cron",
        with_step(
            "- {name: home, request: {path: /}}\n",
            workflow="    schedule:\n      cron: '61 * * * *'\n",
        ),
        "wfmon.yaml:6: workflows[0].schedule.cron: invalid cron expression '61 * * * *'",
    ),
    (
        "unknown retry profile",
        with_step("- {name: home, request: {path: /}}\n", workflow="    retry: turbo\n"),
        "wfmon.yaml:5: workflows[0].retry: unknown retry profile 'turbo' "
        "(known: aggressive, critical, fast, quick, standard)",
    ),
    (
        "inline retry max_attempts",
        with_step(
            "- {name: home, request: {path: /}}\n",
            workflow="    retry:\n      max_attempts: 0\n",
        ),
        "wfmon.yaml:6: workflows[0].retry.max_attempts: must be at least 1, got 0",
    ),
    (
        "inline retry negative delay",
        with_step(
            "- {name: home, request: {path: /}}\n", workflow="    retry: {initial_delay_ms: -5}\n"
        ),
        "wfmon.yaml:5: workflows[0].retry.initial_delay_ms: must be at least 0, got -5",
    ),
    (
        "inline retry jitter",
        with_step(
            "- {name: home, request: {path: /}}\n", workflow="    retry: {jitter_factor: 1.5}\n"
        ),
        "wfmon.yaml:5: workflows[0].retry.jitter_factor: must be at most 1, got 1.5",
    ),
    (
        "inline retry multiplier",
        with_step(
            "- {name: home, request: {path: /}}\n",
            workflow="    retry: {backoff_multiplier: 0.5}\n",
        ),
        "wfmon.yaml:5: workflows[0].retry.backoff_multiplier: must be at least 1, got 0.5",
    ),
    (
        "inline retry unknown field",
        with_step("- {name: home, request: {path: /}}\n", workflow="    retry: {attempts: 2}\n"),
        "wfmon.yaml:5: workflows[0].retry.attempts: unknown key 'attempts'",
    ),
    (
        "retry profile override with bad value",
        VALID + "retry_profiles:\n  standard: {circuit_breaker_threshold: 0}\n",
        "wfmon.yaml:9: retry_profiles.standard.circuit_breaker_threshold: "
        "must be at least 1, got 0",
    ),
    (
        "max delay below initial delay",
        VALID + "retry_profiles:\n  slow: {initial_delay_ms: 5000, max_delay_ms: 100}\n",
        "wfmon.yaml:9: retry_profiles.slow: max_delay_ms (100) must not be below "
        "initial_delay_ms (5000)",
    ),
    (
        "depends_on unknown workflow",
        with_step("- {name: home, request: {path: /}}\n", workflow="    depends_on: [auth]\n"),
        "wfmon.yaml:5: workflows[0].depends_on[0]: unknown workflow 'auth'",
    ),
    (
        "depends_on itself",
        with_step(
            "- {name: home, request: {path: /}}\n", workflow="    depends_on:\n      - login\n"
        ),
        "wfmon.yaml:6: workflows[0].depends_on[0]: a workflow cannot depend on itself",
    ),
    (
        "tags not strings",
        with_step("- {name: home, request: {path: /}}\n", workflow="    tags: [auth, 3]\n"),
        "wfmon.yaml:5: workflows[0].tags[1]: expected a string, got integer",
    ),
    (
        "missing step name",
        with_step("- request: {path: /}\n"),
        "wfmon.yaml:6: workflows[0].steps[0]: missing required key 'name'",
    ),
    (
        "missing request",
        with_step("- name: home\n  assert: [status == 200]\n"),
        "wfmon.yaml:6: workflows[0].steps[0]: missing required key 'request'",
    ),
    (
        "duplicate step name",
        with_step("- {name: home, request: {path: /}}\n- {name: home, request: {path: /x}}\n"),
        "wfmon.yaml:7: workflows[0].steps[1].name: duplicate step name 'home' (first at line 6)",
    ),
    (
        "unknown step key",
        with_step("- name: home\n  request: {path: /}\n  asserts: []\n"),
        "wfmon.yaml:8: workflows[0].steps[0].asserts: unknown key 'asserts' "
        "(did you mean 'assert'?)",
    ),
    (
        "always_run not a boolean",
        with_step("- {name: home, request: {path: /}, always_run: sometimes}\n"),
        "wfmon.yaml:6: workflows[0].steps[0].always_run: expected true or false, got string",
    ),
    (
        "request with path and url",
        with_step("- name: home\n  request: {path: /, url: 'https://x/'}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request: "
        "set exactly one of path (joined to base_url) or url (absolute)",
    ),
    (
        "request with neither path nor url",
        with_step("- name: home\n  request:\n    method: GET\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request: "
        "set exactly one of path (joined to base_url) or url (absolute)",
    ),
    (
        "url not absolute",
        with_step("- name: home\n  request: {url: shop.example.com/x}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.url: "
        "url must be an absolute http(s) URL, got 'shop.example.com/x'",
    ),
    (
        "path without a leading slash",
        with_step("- name: home\n  request: {path: api/me}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.path: path must start with '/', got 'api/me'",
    ),
    (
        "json and body",
        with_step("- name: home\n  request:\n    path: /\n    json: {a: 1}\n    body: text\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request: "
        "set at most one of json, form, body (got json, body)",
    ),
    (
        "bad method",
        with_step("- name: home\n  request: {method: FETCH, path: /}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.method: unknown HTTP method 'FETCH' "
        "(use DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT)",
    ),
    (
        "request timeout negative",
        with_step("- name: home\n  request: {path: /, timeout: -1}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.timeout: must be greater than 0, got -1",
    ),
    (
        "headers not a mapping",
        with_step("- name: home\n  request: {path: /, headers: [a]}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.headers: expected a mapping, got list",
    ),
    (
        "unquoted timestamp in json",
        with_step("- name: home\n  request:\n    path: /\n    json: {at: 2026-01-01}\n"),
        "wfmon.yaml:9: workflows[0].steps[0].request.json.at: "
        "a timestamp is not a JSON value: quote it",
    ),
    (
        "unset env variable",
        with_step(
            "- name: home\n  request:\n    path: /\n    headers: {X-Key: '${env.API_KEY}'}\n"
        ),
        "wfmon.yaml:9: workflows[0].steps[0].request.headers.X-Key: "
        "environment variable 'API_KEY' is not set",
    ),
    (
        "variable not extracted earlier",
        with_step("- name: home\n  request: {path: '/orders/${order_id}'}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.path: "
        "variable '${order_id}' is not extracted by an earlier step",
    ),
    (
        "variable in assert from the same step",
        with_step(
            "- name: home\n  request: {path: /}\n  extract: {id: body.id}\n"
            "  assert:\n    - header.Location contains ${id}\n"
        ),
        "wfmon.yaml:10: workflows[0].steps[0].assert[0]: "
        "variable '${id}' is not extracted by an earlier step",
    ),
    (
        "malformed placeholder",
        with_step("- name: home\n  request: {path: '/${env.X'}\n"),
        "wfmon.yaml:7: workflows[0].steps[0].request.path: unclosed '${' at column 2",
    ),
    (
        "unknown condition subject",
        with_step("- name: home\n  request: {path: /}\n  assert: [code == 200]\n"),
        "wfmon.yaml:8: workflows[0].steps[0].assert[0]: unknown subject 'code': "
        "expected status, response_time, header.NAME, body or body.PATH",
    ),
    (
        "unknown operator",
        with_step(
            "- name: home\n  request: {path: /}\n"
            "  assert:\n    - status == 200\n    - status => 200\n"
        ),
        "wfmon.yaml:10: workflows[0].steps[0].assert[1]: unknown operator '=>'",
    ),
    (
        "condition without value",
        with_step("- name: home\n  request: {path: /}\n  assert: ['status ==']\n"),
        "wfmon.yaml:8: workflows[0].steps[0].assert[0]: missing value after '=='",
    ),
    (
        "bad regex",
        with_step("- name: home\n  request: {path: /}\n  assert: ['body matches (']\n"),
        "wfmon.yaml:8: workflows[0].steps[0].assert[0]: "
        "invalid regex: missing ), unterminated subpattern at position 0",
    ),
    (
        "in without a list",
        with_step("- name: home\n  request: {path: /}\n  assert: [status in 200]\n"),
        "wfmon.yaml:8: workflows[0].steps[0].assert[0]: 'in' needs a list, e.g. [200, 201]",
    ),
    (
        "assert not a list",
        with_step("- name: home\n  request: {path: /}\n  assert: status == 200\n"),
        "wfmon.yaml:8: workflows[0].steps[0].assert: expected a list, got string",
    ),
    (
        "extract with a bad subject",
        with_step("- name: home\n  request: {path: /}\n  extract: {token: json.token}\n"),
        "wfmon.yaml:8: workflows[0].steps[0].extract.token: unknown subject 'json.token': "
        "expected status, response_time, header.NAME, body or body.PATH",
    ),
    (
        "extract into a bad variable name",
        with_step("- name: home\n  request: {path: /}\n  extract: {user-id: body.id}\n"),
        "wfmon.yaml:8: workflows[0].steps[0].extract.user-id: "
        "invalid variable name 'user-id': use [A-Za-z_][A-Za-z0-9_]*",
    ),
    (
        "channels not a mapping",
        VALID + "channels: [SLACK]\n",
        "wfmon.yaml:8: channels: expected a mapping, got list",
    ),
    (
        "channel URLs not a list",
        VALID + "channels:\n  SLACK: json://hooks.example.com\n",
        "wfmon.yaml:9: channels.SLACK: expected a list, got string",
    ),
    (
        "channel URL not a string",
        VALID + "channels:\n  SLACK: [42]\n",
        "wfmon.yaml:9: channels.SLACK[0]: expected a string, got integer",
    ),
    (
        "channel URL with unset env",
        VALID + "channels:\n  SLACK: ['${env.SLACK_URL}']\n",
        "wfmon.yaml:9: channels.SLACK[0]: environment variable 'SLACK_URL' is not set",
    ),
    (
        "alert_rules not a list",
        VALID + "alert_rules: {}\n",
        "wfmon.yaml:8: alert_rules: expected a list, got mapping",
    ),
    (
        "alert rule not a mapping",
        VALID + "alert_rules:\n  - critical-failure\n",
        "wfmon.yaml:9: alert_rules[0]: expected a mapping, got string",
    ),
    (
        "alert_engine not a mapping",
        VALID + "alert_engine: [x]\n",
        "wfmon.yaml:8: alert_engine: expected a mapping, got list",
    ),
    (
        "maintenance window not a mapping",
        VALID + "maintenance: [checkout]\n",
        "wfmon.yaml:8: maintenance[0]: expected a mapping, got string",
    ),
    (
        "channel URL Apprise cannot parse (credentials masked)",
        VALID + "channels:\n  EMAIL: ['mailto://user:pw@']\n",
        "wfmon.yaml:9: channels.EMAIL[0]: invalid Apprise URL mailto://***@***",
    ),
    (
        "alert rule with an unknown severity",
        VALID + "alert_rules:\n  - id: workflow-slow\n    severity: LOUD\n",
        "wfmon.yaml:10: alert_rules[0].severity: unknown severity 'LOUD'",
    ),
    (
        "alert rule condition with an unknown metric",
        VALID
        + "alert_rules:\n  - id: slow-login\n    name: Slow login\n    severity: WARNING\n"
        + "    conditions:\n      - {type: THRESHOLD, metric: workflow.mood, operator: '>',"
        + " value: 1}\n",
        "wfmon.yaml:13: alert_rules[0].conditions[0].metric: unknown metric 'workflow.mood'",
    ),
    (
        "alert rule escalating to a rule that does not exist",
        VALID + "alert_rules:\n  - {id: workflow-slow, escalation_rule: pager}\n",
        "wfmon.yaml:9: alert_rules[0].escalation_rule: no alert rule has id 'pager'",
    ),
    (
        "CUSTOM condition naming a callable that cannot be imported",
        VALID
        + "alert_rules:\n  - id: custom\n    name: Custom\n    severity: INFO\n"
        + "    conditions: [{type: CUSTOM, callable: 'no_such_module:check'}]\n",
        "wfmon.yaml:12: alert_rules[0].conditions[0].callable: cannot import 'no_such_module'",
    ),
    (
        "alert_engine setting of the wrong type",
        VALID + "alert_engine:\n  max_active_alerts: many\n",
        "wfmon.yaml:9: alert_engine.max_active_alerts: expected a whole number >= 1, got 'many'",
    ),
    (
        "alert_engine setting that does not exist",
        VALID + "alert_engine:\n  page_everyone: true\n",
        "wfmon.yaml:9: alert_engine.page_everyone: unknown alert_engine setting 'page_everyone'",
    ),
    (
        "maintenance window without a duration",
        VALID + "maintenance:\n  - {start: '2026-12-01T02:00:00Z'}\n",
        "wfmon.yaml:9: maintenance[0].duration: missing duration (seconds)",
    ),
    (
        "maintenance window with a start that is no timestamp",
        VALID + "maintenance:\n  - {start: tonight, duration: 60}\n",
        "wfmon.yaml:9: maintenance[0].start: expected an ISO 8601 timestamp, got 'tonight'",
    ),
]


def invalid(directory: Path, text: str, *, environ: dict[str, str] | None = None) -> ConfigError:
    """The ConfigError of loading ``text`` as ``wfmon.yaml`` in ``directory``."""
    (directory / "wfmon.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config("wfmon.yaml", environ=environ or {})
    return caught.value


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current directory, so messages name ``wfmon.yaml`` as the CLI would."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_base_case_is_valid(workdir: Path) -> None:
    (workdir / "wfmon.yaml").write_text(VALID, encoding="utf-8")
    config = load_config("wfmon.yaml", environ={})
    assert config.default_environment == "prod"  # the only environment: no default needed


@pytest.mark.parametrize(
    ("text", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_each_problem_is_located(workdir: Path, text: str, expected: str) -> None:
    error = invalid(workdir, text)
    assert len(error.issues) == 1, str(error)
    assert str(error.issues[0]).startswith(expected)


def test_issue_fields_and_exception_text(workdir: Path) -> None:
    error = invalid(workdir, with_step("- {name: home, request: {path: /}, assert: ['x == 1']}\n"))
    (issue,) = error.issues
    assert (issue.file, issue.line, issue.path) == (
        "wfmon.yaml",
        6,
        "workflows[0].steps[0].assert[0]",
    )
    assert issue.message.startswith("unknown subject 'x'")
    assert str(error) == str(issue)


def test_every_problem_is_reported_at_once_in_line_order(workdir: Path) -> None:
    text = textwrap.dedent(
        """\
        environments:
          prod: {base_url: "https://shop.example.com"}
          staging: {base_url: "shop"}
        default_environment: prod
        workflows:
          - name: checkout
            priority: urgent
            depends_on: [ghost]
            steps:
              - name: cart
                request: {method: POST, path: /cart, json: {a: 1}, form: {b: 2}}
                assert: ["status => 200", "body.id == ${order}"]
              - name: cart
                request: {path: /pay}
          - name: checkout
            steps: [{name: x, request: {path: /}}]
        channels: {SLACK: "not-a-list"}
        """
    )
    error = invalid(workdir, text)
    assert [str(issue) for issue in error.issues] == [
        "wfmon.yaml:3: environments.staging.base_url: "
        "base_url must be an absolute http(s) URL, got 'shop'",
        "wfmon.yaml:7: workflows[0].priority: "
        "unknown priority 'urgent': expected critical | high | medium | low",
        "wfmon.yaml:8: workflows[0].depends_on[0]: unknown workflow 'ghost'",
        "wfmon.yaml:11: workflows[0].steps[0].request: "
        "set at most one of json, form, body (got json, form)",
        "wfmon.yaml:12: workflows[0].steps[0].assert[0]: unknown operator '=>'",
        "wfmon.yaml:12: workflows[0].steps[0].assert[1]: "
        "variable '${order}' is not extracted by an earlier step",
        "wfmon.yaml:13: workflows[0].steps[1].name: duplicate step name 'cart' (first at line 10)",
        "wfmon.yaml:15: workflows[1].name: "
        "duplicate workflow name 'checkout' (first defined at line 6)",
        "wfmon.yaml:17: channels.SLACK: expected a list, got string",
    ]


def test_a_syntax_error_in_one_file_reports_only_syntax_errors(workdir: Path) -> None:
    (workdir / "conf").mkdir()
    (workdir / "conf" / "a.yaml").write_text("workflows: [\n", encoding="utf-8")
    (workdir / "conf" / "b.yaml").write_text("default_environment: nowhere\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config("conf", environ={})
    assert [issue.file for issue in caught.value.issues] == [str(Path("conf/a.yaml"))]


MISSING_PATHS = [
    ("missing.yaml", "missing.yaml:1: (root): no such file or directory"),
    ("empty-dir", "empty-dir:1: (root): no *.yaml files in directory"),
]


@pytest.mark.parametrize(("path", "expected"), MISSING_PATHS)
def test_nothing_to_read(workdir: Path, path: str, expected: str) -> None:
    (workdir / "empty-dir").mkdir()
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert [str(issue) for issue in caught.value.issues] == [expected]


def write_directory(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_directory_files_are_merged(workdir: Path) -> None:
    write_directory(
        workdir / "conf",
        {
            "00-environments.yaml": """\
                environments:
                  prod: {base_url: "https://shop.example.com"}
                  staging: {base_url: "https://staging.example.com"}
                default_environment: staging
                retry_profiles:
                  patient: {max_attempts: 6}
                """,
            "auth.yaml": """\
                workflows:
                  - name: login
                    retry: patient
                    steps: [{name: home, request: {path: /}}]
                channels: {EMAIL: ["mailto://ops@example.com"]}
                """,
            "shop.yaml": """\
                workflows:
                  - name: checkout
                    depends_on: [login]
                    steps: [{name: cart, request: {path: /cart}}]
                channels: {SLACK: ["json://hooks.example.com"]}
                maintenance:
                  - {workflows: [checkout], start: "2026-12-01T02:00:00Z", duration: 3600}
                """,
            "ignored.yml": "not: [valid\n",
            "empty.yaml": "# nothing here yet\n",
        },
    )
    config = load_config("conf", environ={})
    assert set(config.environments) == {"prod", "staging"}
    assert config.default_environment == "staging"
    assert [workflow.name for workflow in config.workflows] == ["login", "checkout"]
    assert config.workflow("login").retry == RetryProfile(max_attempts=6)
    assert config.workflow("checkout").depends_on == ("login",)
    assert config.channels == {
        "EMAIL": ("mailto://ops@example.com",),
        "SLACK": ("json://hooks.example.com",),
    }
    assert len(config.maintenance) == 1


def test_duplicates_across_files_name_the_other_file(workdir: Path) -> None:
    head = 'environments:\n  prod: {base_url: "https://x"}\n'
    workflow = "workflows:\n  - name: login\n    steps: [{name: a, request: {path: /}}]\n"
    alerting = "channels: {SLACK: []}\nalert_rules: [{id: workflow-slow, enabled: false}]\n"
    write_directory(
        workdir / "conf",
        {
            "a.yaml": head + workflow + alerting,
            "b.yaml": "\n" + workflow + alerting + "default_environment: prod\n",
            "c.yaml": head + "default_environment: prod\n",
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_config("conf", environ={})
    a, b, c = (str(Path("conf", name)) for name in ("a.yaml", "b.yaml", "c.yaml"))
    assert [str(issue) for issue in caught.value.issues] == [
        f"{b}:3: workflows[0].name: duplicate workflow name 'login' (first defined in {a}:4)",
        f"{b}:5: channels.SLACK: duplicate channel 'SLACK' (first defined in {a}:6)",
        f"{b}:6: alert_rules[0].id: duplicate alert rule id 'workflow-slow' "
        f"(first defined in {a}:7)",
        f"{c}:2: environments.prod: duplicate environment 'prod' (first defined in {a}:2)",
        f"{c}:3: default_environment: default_environment is set twice (first defined in {b}:7)",
    ]


def test_a_key_missing_from_every_file(workdir: Path) -> None:
    write_directory(workdir / "conf", {"a.yaml": 'environments: {prod: {base_url: "https://x"}}\n'})
    with pytest.raises(ConfigError) as caught:
        load_config("conf", environ={})
    assert [str(issue) for issue in caught.value.issues] == [
        f"{Path('conf/a.yaml')}:1: (root): missing required key 'workflows'"
    ]


# SPEC §2's example, verbatim.
SPEC_EXAMPLE = """\
environments:                       # at least one; base_url joins step paths
  production: {base_url: "https://shop.example.com"}
  staging:    {base_url: "https://staging.shop.example.com"}
default_environment: production

workflows:
  - name: user-login                # unique, [a-z0-9][a-z0-9-]*
    description: Sign in and read the profile
    priority: critical              # critical | high | medium | low
    schedule: {interval: 60}        # seconds, or {cron: "*/5 * * * *"}
    retry: standard                 # a retry profile name, or an inline mapping
    timeout: 30                     # seconds for the whole run
    degraded_after_ms: 2000         # a passing run slower than this is "degraded"
    depends_on: []                  # workflows whose failure suppresses this one's alerts
    tags: [auth]
    steps:
      - name: sign in
        request:
          method: POST              # default GET
          path: /api/auth/login     # or url: absolute
          headers: {X-Client: wfmon}
          query: {}
          json: {email: "${env.SHOP_USER}", password: "${env.SHOP_PASSWORD}"}   # or form: / body:
          timeout: 10               # seconds, default 10
        extract: {token: "body.token"}
        assert:
          - status == 200
          - response_time < 1500
          - body.token exists
      - name: profile
        request: {path: /api/me, headers: {Authorization: "Bearer ${token}"}}
        assert: ["status == 200", "body.email == ${env.SHOP_USER}"]
      - name: sign out
        always_run: true            # runs even after an earlier step failed
        request: {method: POST, path: /api/auth/logout}

retry_profiles: {}                  # overrides / additions, fields as in section 4
alert_rules: []                     # additions / overrides of the predefined rules, section 5
alert_engine: {}                    # engine settings, section 5
channels:                           # channel name -> Apprise URLs
  SLACK:   ["${env.SLACK_APPRISE_URL}"]
  EMAIL:   ["mailtos://user:${env.SMTP_PASSWORD}@smtp.example.com?to=ops@example.com"]
  WEBHOOK: ["json://hooks.example.com/wfmon"]
maintenance:                        # silences: alerts are recorded, not sent
  - {workflows: [checkout], start: "2026-12-01T02:00:00Z", duration: 3600}
"""

SPEC_ENVIRON = {
    "SHOP_USER": "ann@example.com",
    "SHOP_PASSWORD": "hunter2",
    "SLACK_APPRISE_URL": "slack://T1/B2/C3",
    "SMTP_PASSWORD": "smtp-pw",
}


def test_the_spec_example_loads_into_typed_specs(tmp_path: Path) -> None:
    path = tmp_path / "wfmon.yaml"
    path.write_text(SPEC_EXAMPLE, encoding="utf-8")
    config = load_config(path, environ=SPEC_ENVIRON)

    assert isinstance(config, Config)
    assert config.environments == {
        "production": EnvironmentSpec(name="production", base_url="https://shop.example.com"),
        "staging": EnvironmentSpec(name="staging", base_url="https://staging.shop.example.com"),
    }
    assert config.default_environment == "production"
    (workflow,) = config.workflows
    assert isinstance(workflow, WorkflowSpec)
    assert (workflow.name, workflow.priority, workflow.tags) == (
        "user-login",
        Priority.CRITICAL,
        ("auth",),
    )
    assert workflow.schedule == ScheduleSpec(interval=60)
    assert (workflow.retry_profile, workflow.retry) == (
        "standard",
        BUILTIN_RETRY_PROFILES["standard"],
    )
    assert (workflow.timeout, workflow.degraded_after_ms, workflow.depends_on) == (30, 2000, ())

    sign_in, profile, sign_out = workflow.steps
    assert all(isinstance(step, StepSpec) for step in workflow.steps)
    request = sign_in.request
    assert isinstance(request, RequestSpec)
    assert (request.method, request.path, request.url, request.timeout) == (
        "POST",
        Template("/api/auth/login", {}),
        None,
        10,
    )
    assert {name: value.source for name, value in request.headers.items()} == {"X-Client": "wfmon"}
    assert render_tree(request.json_body, {}) == {"email": "ann@example.com", "password": "hunter2"}
    assert sign_in.extract == {"token": Extraction("body.token")}
    assert [condition.source for condition in sign_in.assertions] == [
        "status == 200",
        "response_time < 1500",
        "body.token exists",
    ]
    assert all(isinstance(condition, Condition) for condition in sign_in.assertions)
    assert profile.request.method == "GET"
    assert profile.request.headers["Authorization"].render({"token": "t"}) == "Bearer t"
    assert profile.assertions[1].source == "body.email == ${env.SHOP_USER}"
    assert (sign_out.always_run, sign_in.always_run) == (True, False)

    assert config.retry_profiles == dict(BUILTIN_RETRY_PROFILES)
    assert (config.alert_rules, config.alert_engine) == ((), {})
    assert config.channels == {
        "SLACK": ("slack://T1/B2/C3",),
        "EMAIL": ("mailtos://user:smtp-pw@smtp.example.com?to=ops@example.com",),
        "WEBHOOK": ("json://hooks.example.com/wfmon",),
    }
    assert config.maintenance == (
        {"workflows": ["checkout"], "start": "2026-12-01T02:00:00Z", "duration": 3600},
    )
    # Every value that came from ${env.*}, and nothing else; and no repr shows them.
    assert config.secrets == set(SPEC_ENVIRON.values())
    assert not any(secret in repr(config) for secret in ("hunter2", "ann@example.com"))


def test_defaults(workdir: Path) -> None:
    (workdir / "wfmon.yaml").write_text(VALID, encoding="utf-8")
    workflow = load_config("wfmon.yaml", environ={}).workflow("login")
    assert (workflow.priority, workflow.schedule, workflow.timeout) == (
        Priority.MEDIUM,
        ScheduleSpec(interval=60),
        30,
    )
    assert (workflow.retry_profile, workflow.retry) == (
        "standard",
        BUILTIN_RETRY_PROFILES["standard"],
    )
    request = workflow.steps[0].request
    assert (request.method, request.timeout, request.json_body) == ("GET", 10, None)


RETRY = [
    # (retry_profiles section, workflow's retry, expected retry_profile, expected profile)
    ("", "fast", "fast", BUILTIN_RETRY_PROFILES["fast"]),
    ("", "quick", "quick", BUILTIN_RETRY_PROFILES["fast"]),
    ("", "critical", "critical", BUILTIN_RETRY_PROFILES["aggressive"]),
    ("", "{max_attempts: 7}", "inline", RetryProfile(max_attempts=7)),
    # a partial override merges over the same-named built-in, and its alias follows
    (
        "retry_profiles: {aggressive: {max_attempts: 9}}",
        "critical",
        "critical",
        BUILTIN_RETRY_PROFILES["aggressive"].model_copy(update={"max_attempts": 9}),
    ),
    # an alias overridden on its own stands alone
    (
        "retry_profiles: {quick: {max_attempts: 1}}",
        "fast",
        "fast",
        BUILTIN_RETRY_PROFILES["fast"],
    ),
    # a new profile merges over standard
    (
        "retry_profiles: {patient: {initial_delay_ms: 50}}",
        "patient",
        "patient",
        RetryProfile(initial_delay_ms=50),
    ),
]


@pytest.mark.parametrize(("profiles", "retry", "name", "expected"), RETRY)
def test_retry_profiles(
    workdir: Path, profiles: str, retry: str, name: str, expected: RetryProfile
) -> None:
    text = with_step("- {name: home, request: {path: /}}\n", workflow=f"    retry: {retry}\n")
    (workdir / "wfmon.yaml").write_text(text + profiles + "\n", encoding="utf-8")
    workflow = load_config("wfmon.yaml", environ={}).workflow("login")
    assert (workflow.retry_profile, workflow.retry) == (name, expected)


def test_builtin_profiles_match_the_spec() -> None:
    fields = (
        "max_attempts",
        "initial_delay_ms",
        "max_delay_ms",
        "backoff_multiplier",
        "jitter_factor",
        "enable_circuit_breaker",
        "circuit_breaker_threshold",
        "circuit_breaker_reset_time_ms",
    )
    values = {
        name: tuple(getattr(profile, field) for field in fields)
        for name, profile in BUILTIN_RETRY_PROFILES.items()
    }
    assert values == {
        "standard": (3, 1000, 30000, 2, 0.1, True, 5, 60000),
        "aggressive": (5, 2000, 60000, 3, 0.1, True, 3, 30000),
        "critical": (5, 2000, 60000, 3, 0.1, True, 3, 30000),
        "fast": (2, 500, 5000, 2, 0.05, False, 10, 30000),
        "quick": (2, 500, 5000, 2, 0.05, False, 10, 30000),
    }


def test_variables_flow_from_earlier_steps(workdir: Path) -> None:
    text = with_step(
        """\
        - name: list
          request: {path: /items}
          extract: {item_id: "body.items[0].id"}
        - name: open
          request:
            path: /items/${item_id}
            json: {ids: ["${item_id}"], note: "$${literal}"}
          assert: ["body.id == ${item_id}"]
        """
    )
    (workdir / "wfmon.yaml").write_text(text, encoding="utf-8")
    step = load_config("wfmon.yaml", environ={}).workflow("login").steps[1]
    assert step.request.path is not None
    assert step.request.path.render({"item_id": "7"}) == "/items/7"
    assert render_tree(step.request.json_body, {"item_id": "7"}) == {
        "ids": ["7"],
        "note": "${literal}",
    }
    assert step.assertions[0].variables == {"item_id"}


def test_anchors_aliases_and_merge_keys(workdir: Path) -> None:
    text = textwrap.dedent(
        """\
        x-steps:
          home: &home {name: home, request: {path: /, headers: {X-Client: wfmon}}}
        environments:
          prod: {base_url: "https://shop.example.com"}
        workflows:
          - name: login
            steps: [*home, {<<: *home, name: again}]
        """
    )
    (workdir / "wfmon.yaml").write_text(text, encoding="utf-8")
    steps = load_config("wfmon.yaml", environ={}).workflow("login").steps
    assert [(step.name, step.request.headers["X-Client"].source) for step in steps] == [
        ("home", "wfmon"),
        ("again", "wfmon"),
    ]


def test_env_defaults_are_not_secrets(workdir: Path) -> None:
    text = VALID.replace("https://shop.example.com", "${env.BASE_URL:-https://shop.example.com}")
    (workdir / "wfmon.yaml").write_text(text, encoding="utf-8")
    assert load_config("wfmon.yaml", environ={}).secrets == frozenset()
    config = load_config("wfmon.yaml", environ={"BASE_URL": "https://internal.example.com"})
    assert config.environments["prod"].base_url == "https://internal.example.com"
    assert config.secrets == {"https://internal.example.com"}


def test_a_secret_is_never_echoed_in_a_message(workdir: Path) -> None:
    text = VALID.replace("https://shop.example.com", "${env.BASE_URL}")
    error = invalid(workdir, text, environ={"BASE_URL": "ftp://token@internal"})
    assert [str(issue) for issue in error.issues] == [
        "wfmon.yaml:2: environments.prod.base_url: base_url must be an absolute http(s) URL, "
        "got '${env.BASE_URL}'"
    ]


RESOLVE = [
    # (--config, WFMON_CONFIG, resolved)
    ("cli.yaml", "env.yaml", Path("cli.yaml")),
    (None, "env.yaml", Path("env.yaml")),
    (None, "", Path("wfmon.yaml")),
    (None, None, Path("wfmon.yaml")),
]


@pytest.mark.parametrize(("cli", "env", "expected"), RESOLVE)
def test_resolve_config_path(cli: str | None, env: str | None, expected: Path) -> None:
    environ = {} if env is None else {"WFMON_CONFIG": env}
    assert resolve_config_path(cli, environ=environ) == expected
