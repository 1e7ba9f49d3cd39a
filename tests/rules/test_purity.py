"""``rules`` stays pure: importing it pulls in no Prefect, httpx or SQL library."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("prefect", "httpx", "sqlalchemy", "sqlmodel", "psycopg", "apprise", "litestar")


def test_importing_rules_imports_no_io_library() -> None:
    code = (
        "import sys, rules, rules.engine\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == ""
