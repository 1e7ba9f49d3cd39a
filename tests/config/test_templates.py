"""``${env.NAME}``, ``${env.NAME:-default}`` and ``${name}``: parsing, rendering, secrets."""

from __future__ import annotations

from typing import Any

import pytest

from wfmon.config import MissingVariable, Template, TemplateSyntaxError, render_tree
from wfmon.config.templates import parse_tree, tree_templates

RENDER = [
    # (source, environ, variables, rendered, run-time variables, secrets)
    ("plain text", {}, {}, "plain text", set(), set()),
    ("", {}, {}, "", set(), set()),
    ("Bearer ${token}", {}, {"token": "t1"}, "Bearer t1", {"token"}, set()),
    ("${a}-${b}/${a}", {}, {"a": "x", "b": "y"}, "x-y/x", {"a", "b"}, set()),
    ("${env.USER}", {"USER": "alice"}, {}, "alice", set(), {"alice"}),
    ("u=${env.USER}&t=${token}", {"USER": "al"}, {"token": "t"}, "u=al&t=t", {"token"}, {"al"}),
    # a default is written in the file: not a secret; a value read from the environment is
    ("${env.USER:-bob}", {}, {}, "bob", set(), set()),
    ("${env.USER:-bob}", {"USER": "alice"}, {}, "alice", set(), {"alice"}),
    ("${env.USER:-bob}", {"USER": ""}, {}, "bob", set(), set()),
    ("${env.USER:-}", {}, {}, "", set(), set()),
    ("${env.URL:-http://x:8/a?b=c}", {}, {}, "http://x:8/a?b=c", set(), set()),
    ("${env.EMPTY}", {"EMPTY": ""}, {}, "", set(), set()),
    # '$$' + '{' escapes a literal '${'; a lone '$' is text
    ("$${literal}", {}, {}, "${literal}", set(), set()),
    ("cost: $5, $$, $", {}, {}, "cost: $5, $$, $", set(), set()),
    # values are never re-interpreted, secret or extracted
    ("${env.X}", {"X": "${token}"}, {"token": "t"}, "${token}", set(), {"${token}"}),
    ("${v}", {"X": "no"}, {"v": "${env.X}"}, "${env.X}", {"v"}, set()),
]


@pytest.mark.parametrize(
    ("source", "environ", "variables", "rendered", "needed", "secrets"), RENDER
)
def test_render(
    source: str,
    environ: dict[str, str],
    variables: dict[str, str],
    rendered: str,
    needed: set[str],
    secrets: set[str],
) -> None:
    template = Template(source, environ)
    assert template.source == source  # as written: what we display
    assert template.render(variables) == rendered
    assert template.variables == needed
    assert template.secrets == secrets


SYNTAX_ERRORS = [
    ("${", "unclosed '${' at column 1"),
    ("abc ${token", "unclosed '${' at column 5"),
    ("${}", "malformed placeholder '${}'"),
    ("${env}", "malformed placeholder '${env}'"),
    ("${env.}", "malformed placeholder '${env.}'"),
    ("${1abc}", "malformed placeholder '${1abc}'"),
    ("${a b}", "malformed placeholder '${a b}'"),
    ("${env.X-Y}", "malformed placeholder '${env.X-Y}'"),
    ("${env.X:-${y}}", "nested placeholders are not supported"),
    ("${env.UNSET}", "environment variable 'UNSET' is not set"),
    ("ok ${env.SET} ${env.UNSET:-d} ${env.GONE}", "environment variable 'GONE' is not set"),
]


@pytest.mark.parametrize(("source", "message"), SYNTAX_ERRORS)
def test_syntax_errors(source: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        Template(source, {"SET": "1"})
    assert str(caught.value).startswith(message)


def test_missing_variable_names_the_variable() -> None:
    template = Template("Bearer ${token} ${other}", {})
    with pytest.raises(MissingVariable) as caught:
        template.render({"other": "o"})
    assert caught.value.name == "token"
    assert str(caught.value) == "variable 'token' is not set"


def test_secret_values_stay_out_of_source_and_repr() -> None:
    template = Template("Basic ${env.CREDENTIALS}", {"CREDENTIALS": "hunter2"})
    assert template.render({}) == "Basic hunter2"
    assert "hunter2" not in template.source
    assert "hunter2" not in repr(template)
    assert str(template) == "Basic ${env.CREDENTIALS}"


def test_direct_construction_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WFMON_TEST_SECRET", "from-process")
    assert Template("${env.WFMON_TEST_SECRET}").render({}) == "from-process"


PREFIXES = [
    ("/api/${id}/x", "/api/"),
    ("${base}/x", ""),
    ("${env.HOST:-https://h}/a", "https://h/a"),
    ("static", "static"),
]


@pytest.mark.parametrize(("source", "prefix"), PREFIXES)
def test_static_prefix(source: str, prefix: str) -> None:
    assert Template(source, {}).static_prefix == prefix


def test_tree_renders_every_string_leaf_and_keeps_other_types() -> None:
    raw: dict[str, Any] = {
        "email": "${env.USER}",
        "items": [{"id": "${product_id}", "quantity": 1}, "x"],
        "gift": False,
        "note": None,
        "price": 9.5,
    }
    tree = parse_tree(raw, environ={"USER": "ann"})
    assert [template.source for template in tree_templates(tree)] == [
        "${env.USER}",
        "${product_id}",
        "x",
    ]
    assert render_tree(tree, {"product_id": "p7"}) == {
        "email": "ann",
        "items": [{"id": "p7", "quantity": 1}, "x"],
        "gift": False,
        "note": None,
        "price": 9.5,
    }
    with pytest.raises(MissingVariable):
        render_tree(tree, {})
