"""The condition language: every subject and operator, parsed once and evaluated purely."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from wfmon.config import Condition, ConditionSyntaxError, Extraction
from wfmon.results import ConditionResult


@dataclass(frozen=True)
class FakeResponse:
    """A ProbeResponse without a network: conditions are pure logic."""

    status: int = 200
    response_time_ms: float = 120.0
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.text)


def body(document: Any) -> FakeResponse:
    return FakeResponse(text=json.dumps(document))


JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "max-age=60"}

EVALUATE = [
    # (condition, response, expected display, expected success)
    # status: every operator
    ("status == 200", FakeResponse(status=200), "status (200) == 200", True),
    ("status == 200", FakeResponse(status=503), "status (503) == 200", False),
    ('status == "200"', FakeResponse(status=200), 'status (200) == "200"', True),
    ("status != 500", FakeResponse(status=200), "status (200) != 500", True),
    ("status != 500", FakeResponse(status=500), "status (500) != 500", False),
    ("status < 300", FakeResponse(status=204), "status (204) < 300", True),
    ("status < 300", FakeResponse(status=300), "status (300) < 300", False),
    ("status <= 299", FakeResponse(status=299), "status (299) <= 299", True),
    ("status <= 299", FakeResponse(status=301), "status (301) <= 299", False),
    ("status > 199", FakeResponse(status=200), "status (200) > 199", True),
    ("status > 199", FakeResponse(status=101), "status (101) > 199", False),
    ("status >= 500", FakeResponse(status=503), "status (503) >= 500", True),
    ("status >= 500", FakeResponse(status=404), "status (404) >= 500", False),
    ("status in [200, 201]", FakeResponse(status=201), "status (201) in [200, 201]", True),
    ("status in [200, 201]", FakeResponse(status=503), "status (503) in [200, 201]", False),
    ("status contains 20", FakeResponse(status=204), "status (204) contains 20", True),
    ("status !contains 5", FakeResponse(status=200), "status (200) !contains 5", True),
    ("status !contains 5", FakeResponse(status=500), "status (500) !contains 5", False),
    (r"status matches ^2\d\d$", FakeResponse(status=204), r"status (204) matches ^2\d\d$", True),
    (r"status matches ^2\d\d$", FakeResponse(status=404), r"status (404) matches ^2\d\d$", False),
    ("status exists", FakeResponse(), "status (200) exists", True),
    ("status !exists", FakeResponse(), "status (200) !exists", False),
    ("status==200", FakeResponse(status=200), "status (200) == 200", True),
    # response_time: milliseconds, shown with at most two decimals
    (
        "response_time < 1500",
        FakeResponse(response_time_ms=120.0),
        "response_time (120) < 1500",
        True,
    ),
    (
        "response_time < 100",
        FakeResponse(response_time_ms=123.456),
        "response_time (123.46) < 100",
        False,
    ),
    # header.NAME: case-insensitive
    (
        "header.content-type contains json",
        FakeResponse(headers=JSON_HEADERS),
        "header.content-type (application/json) contains json",
        True,
    ),
    (
        r"header.Cache-Control matches max-age=\d+",
        FakeResponse(headers=JSON_HEADERS),
        r"header.Cache-Control (max-age=60) matches max-age=\d+",
        True,
    ),
    ("header.X-Id exists", FakeResponse(), "header.X-Id (<missing>) exists", False),
    ("header.X-Id !exists", FakeResponse(), "header.X-Id (<missing>) !exists", True),
    ("header.X-Id == a", FakeResponse(), "header.X-Id (<missing>) == a", False),
    ("header.X-Id !contains a", FakeResponse(), "header.X-Id (<missing>) !contains a", False),
    # body: raw text, newlines escaped in the display
    (
        "body contains hello",
        FakeResponse(text="say\nhello"),
        "body (say\\nhello) contains hello",
        True,
    ),
    ("body == ok", FakeResponse(text="ok"), "body (ok) == ok", True),
    ("body exists", FakeResponse(text=""), 'body ("") exists', False),
    ("body !exists", FakeResponse(text=""), 'body ("") !exists', True),
    ("body matches ^[a-z]+$", FakeResponse(text="abc"), "body (abc) matches ^[a-z]+$", True),
    # body.PATH
    ("body.token exists", body({"token": "abc"}), "body.token (abc) exists", True),
    ("body.token exists", body({}), "body.token (<missing>) exists", False),
    ("body.token !exists", body({}), "body.token (<missing>) !exists", True),
    ("body.token !exists", body({"token": "t"}), "body.token (t) !exists", False),
    ("body.items[0].id == 7", body({"items": [{"id": 7}]}), "body.items[0].id (7) == 7", True),
    ("body.items[-1] == 3", body({"items": [1, 2, 3]}), "body.items[-1] (3) == 3", True),
    ("body.items[5] == 3", body({"items": [1]}), "body.items[5] (<missing>) == 3", False),
    ("body[0].id == 1", body([{"id": 1}]), "body[0].id (1) == 1", True),
    ("body.items.length > 0", body({"items": [1, 2]}), "body.items.length (2) > 0", True),
    ("body.items.length > 0", body({}), "body.items.length (<missing>) > 0", False),
    ("body.meta.length == 5", body({"meta": {"length": 5}}), "body.meta.length (5) == 5", True),
    # numbers: a numeric string equals an unquoted number; quoting forces text
    ("body.count == 200", body({"count": "200"}), "body.count (200) == 200", True),
    ("body.count == 200", body({"count": 200.0}), "body.count (200) == 200", True),
    ('body.count == "200"', body({"count": 200.5}), 'body.count (200.5) == "200"', False),
    ("body.price > 10", body({"price": "cheap"}), "body.price (cheap) > 10", False),
    ("body.price >= 9.5", body({"price": "9.50"}), "body.price (9.50) >= 9.5", True),
    ("body.ok == true", body({"ok": True}), "body.ok (true) == true", True),
    ("body.ok == true", body({"ok": False}), "body.ok (false) == true", False),
    ("body.value == null", body({"value": None}), "body.value (null) == null", True),
    ("body.value exists", body({"value": None}), "body.value (null) exists", True),
    (
        "body.name == John Smith",
        body({"name": "John Smith"}),
        "body.name (John Smith) == John Smith",
        True,
    ),
    ("body.name != 'Jo'", body({"name": "Jo"}), "body.name (Jo) != 'Jo'", False),
    (
        "body.tags contains admin",
        body({"tags": ["user", "admin"]}),
        'body.tags (["user","admin"]) contains admin',
        True,
    ),
    (
        "body.tags !contains root",
        body({"tags": ["user"]}),
        'body.tags (["user"]) !contains root',
        True,
    ),
    ("body.meta contains id", body({"meta": {"id": 1}}), 'body.meta ({"id":1}) contains id', True),
    (
        'body.role in [admin, "owner"]',
        body({"role": "owner"}),
        'body.role (owner) in [admin, "owner"]',
        True,
    ),
    (
        "body.code matches ^A-\\d+$",
        body({"code": "A-12"}),
        "body.code (A-12) matches ^A-\\d+$",
        True,
    ),
    # a body that is not JSON fails every body.PATH condition, !exists included
    ("body.token exists", FakeResponse(text="<html>"), "body.token (<invalid JSON>) exists", False),
    (
        "body.token !exists",
        FakeResponse(text="<html>"),
        "body.token (<invalid JSON>) !exists",
        False,
    ),
    ("body.id == 1", FakeResponse(text=""), "body.id (<invalid JSON>) == 1", False),
    # long actual values are truncated
    ("body == x", FakeResponse(text="a" * 150), f"body ({'a' * 97}...) == x", False),
]


@pytest.mark.parametrize(("source", "response", "display", "success"), EVALUATE)
def test_evaluate(source: str, response: FakeResponse, display: str, success: bool) -> None:
    result = Condition(source, {}).evaluate(response, {})
    assert result == ConditionResult(condition=source, display=display, success=success)


VARIABLES = [
    # (condition, environ, variables, response, display, success)
    ("body.id == ${id}", {}, {"id": "7"}, body({"id": 7}), "body.id (7) == ${id}", True),
    ("body.id == ${id}", {}, {"id": "8"}, body({"id": 7}), "body.id (7) == ${id}", False),
    (
        "body.id == ${id}",
        {},
        {},
        body({"id": 7}),
        "body.id (7) == ${id} (variable 'id' is not set)",
        False,
    ),
    ('body.id == "${id}"', {}, {"id": "7"}, body({"id": "7"}), 'body.id (7) == "${id}"', True),
    (
        "status in [${ok}, 201]",
        {},
        {"ok": "200"},
        FakeResponse(),
        "status (200) in [${ok}, 201]",
        True,
    ),
    (
        "response_time < ${env.BUDGET}",
        {"BUDGET": "1500"},
        {},
        FakeResponse(response_time_ms=2000.0),
        "response_time (2000) < ${env.BUDGET}",
        False,
    ),
    # the actual value equals a secret: masked, and the expected value stays as written
    (
        "body.email == ${env.SHOP_USER}",
        {"SHOP_USER": "ann@example.com"},
        {},
        body({"email": "ann@example.com"}),
        "body.email (***) == ${env.SHOP_USER}",
        True,
    ),
    (
        "header.X-Echo contains ${env.TOKEN}",
        {"TOKEN": "s3cret"},
        {},
        FakeResponse(headers={"X-Echo": "token=s3cret;"}),
        "header.X-Echo (token=***;) contains ${env.TOKEN}",
        True,
    ),
    # a variable whose value holds ${...} is compared as text, never re-parsed
    (
        "body.v == ${v}",
        {"X": "no"},
        {"v": "${env.X}"},
        body({"v": "${env.X}"}),
        "body.v (${env.X}) == ${v}",
        True,
    ),
]


@pytest.mark.parametrize(
    ("source", "environ", "variables", "response", "display", "success"), VARIABLES
)
def test_evaluate_with_placeholders(
    source: str,
    environ: dict[str, str],
    variables: dict[str, str],
    response: FakeResponse,
    display: str,
    success: bool,
) -> None:
    result = Condition(source, environ).evaluate(response, variables)
    assert (result.display, result.success) == (display, success)


PARSE_ERRORS = [
    ("", "empty condition"),
    ("   ", "empty condition"),
    ("foo == 1", "unknown subject 'foo'"),
    ("headers.X == 1", "unknown subject 'headers.X'"),
    ("header. == x", "invalid header name in subject 'header.'"),
    ("body.items[x] == 1", "invalid JSON path 'body.items[x]' at column 11"),
    ("body..a == 1", "invalid JSON path 'body..a' at column 5"),
    ("status", "missing operator after 'status'"),
    ("status => 200", "unknown operator '=>'"),
    ("status === 200", "unknown operator '==='"),
    ("status equals 200", "unknown operator 'equals'"),
    ("status in[200]", "unknown operator 'in[200]'"),
    ("status ==", "missing value after '=='"),
    ("body contains", "missing value after 'contains'"),
    ("body.token exists yes", "'exists' takes no value, got 'yes'"),
    ("body.token !exists 1", "'!exists' takes no value, got '1'"),
    ("status in 200", "'in' needs a list, e.g. [200, 201]"),
    ("status == [200]", "a list is only allowed with 'in', not '=='"),
    ("status in []", "empty list"),
    ("status in [200, ]", "empty item in list"),
    ("status in [200", "unclosed list '[200'"),
    ("status in [[200]]", "nested lists are not supported"),
    ('status in ["a, b]', "unterminated quoted string in list"),
    ("body matches [", "invalid regex: unterminated character set at position 0"),
    ("body matches ${token}", "'matches' needs a pattern known at load time, not ${name}"),
    ("response_time < fast", "'<' needs a number, got fast"),
    ('status >= "200"', "'>=' needs a number, got \"200\""),
    ("response_time < ${env.BUDGET}", "'<' needs a number, got ${env.BUDGET}"),
    ('body == "unterminated', 'malformed quoted string "unterminated'),
    ("body == 'x", "malformed quoted string 'x"),
    ("body == ${env.UNSET}", "environment variable 'UNSET' is not set"),
    ("body == ${bad name}", "malformed placeholder '${bad name}'"),
    ("body == ${oops", "unclosed '${' at column 1"),
]


@pytest.mark.parametrize(("source", "message"), PARSE_ERRORS)
def test_parse_errors(source: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError) as caught:
        Condition(source, {"BUDGET": "soon"})
    assert str(caught.value).startswith(message)


PARSED = [
    # (source, subject, operator, variables)
    ("status == 200", "status", "==", set()),
    ("  body.a.b[2]   !=   x y  ", "body.a.b[2]", "!=", set()),
    ("header.ETag !contains ${etag}", "header.ETag", "!contains", {"etag"}),
    ("body.id in [${a}, ${b}, 3]", "body.id", "in", {"a", "b"}),
    ("body !exists", "body", "!exists", set()),
]


@pytest.mark.parametrize(("source", "subject", "operator", "variables"), PARSED)
def test_parsed_once(source: str, subject: str, operator: str, variables: set[str]) -> None:
    condition = Condition(source, {})
    assert condition.source == source  # kept as written, for display
    assert (condition.subject.source, str(condition.operator)) == (subject, operator)
    assert condition.variables == variables


def test_env_values_are_resolved_at_parse_time_and_kept_out_of_repr() -> None:
    condition = Condition("body matches ^${env.PREFIX}", {"PREFIX": "s3cret"})
    assert condition.secrets == {"s3cret"}
    assert condition.pattern is not None and condition.pattern.pattern == "^s3cret"
    assert "s3cret" not in repr(condition)
    assert Condition("body == ${env.X:-dflt}", {}).secrets == frozenset()


def test_direct_construction_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFMON_TEST_EXPECTED", "ok")
    result = Condition("body == ${env.WFMON_TEST_EXPECTED}").evaluate(FakeResponse(text="ok"), {})
    assert result.success


EXTRACT = [
    # (subject, response, extracted)
    ("body.token", body({"token": "abc"}), "abc"),
    ("body.items[0].id", body({"items": [{"id": 42}]}), "42"),
    ("body.items", body({"items": [1, 2]}), "[1,2]"),
    ("body.ok", body({"ok": True}), "true"),
    ("body.value", body({"value": None}), None),
    ("body.missing", body({}), None),
    ("body.token", FakeResponse(text="<html>"), None),
    ("body", FakeResponse(text="raw token"), "raw token"),
    ("header.x-request-id", FakeResponse(headers={"X-Request-ID": "r1"}), "r1"),
    ("header.Location", FakeResponse(), None),
    ("status", FakeResponse(status=201), "201"),
]


@pytest.mark.parametrize(("source", "response", "extracted"), EXTRACT)
def test_extract(source: str, response: FakeResponse, extracted: str | None) -> None:
    assert Extraction(source).extract(response) == extracted


EXTRACT_ERRORS = [
    ("response_time", "cannot extract response_time"),
    ("token", "unknown subject 'token'"),
    ("body.items[", "invalid JSON path 'body.items['"),
    ("header.", "invalid header name in subject 'header.'"),
]


@pytest.mark.parametrize(("source", "message"), EXTRACT_ERRORS)
def test_extract_errors(source: str, message: str) -> None:
    with pytest.raises(ConditionSyntaxError, match=message.replace("[", r"\[")):
        Extraction(source)
