"""The dashboard at ``/`` in a real headless Chromium (the system's, driven by Playwright):
it loads the metrics from the API and shows them; no script error on the page.

Chromium comes from the OS (``scripts/ensure-browser.sh``, run by ``make test``);
``WFMON_TEST_CHROMIUM`` may name another binary. It is not skipped when missing: it fails.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, sync_playwright
from sqlalchemy import Engine

from store import record_run
from tests.api.conftest import NOW
from tests.store.examples import failed_checkout, passed_run


def _chromium() -> str:
    for candidate in (os.environ.get("WFMON_TEST_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (path := shutil.which(candidate)):
            return path
    pytest.fail(
        "no Chromium found: run scripts/ensure-browser.sh (make test does) "
        "or set WFMON_TEST_CHROMIUM",
        pytrace=False,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dashboard_shows_the_metrics(migrated_engine: Engine, api_url: str) -> None:
    record_run(migrated_engine, result=failed_checkout(started_at=NOW - timedelta(hours=3)))
    for minutes in (5, 15, 25):
        record_run(
            migrated_engine,
            result=passed_run(workflow="search", started_at=NOW - timedelta(minutes=minutes)),
        )
    expected = httpx.get(f"{api_url}/api/monitoring/metrics").json()["data"]
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    with sync_playwright() as playwright:
        # Root in CI: Chromium's sandbox needs an unprivileged user.
        browser = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.on("console", on_console)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(api_url)
            page.wait_for_selector("body[data-loaded='24h']", timeout=15_000)

            assert page.text_content("#total-executions") == str(
                expected["summary"]["totalExecutions"]
            )
            assert page.text_content("#total-executions") == "4"
            assert page.text_content("#success-rate") == "75.0%"
            assert page.text_content("#health-status") == expected["system"]["healthStatus"]
            rows = page.locator("#workflows tr")
            assert rows.count() == 2
            assert (
                page.locator("#workflows tr[data-workflow='search'] td").nth(2).text_content()
                == "3"
            )
            assert page.locator("#hourly-chart rect.bar").count() >= 2
            assert page.text_content("#error") == ""

            page.select_option("#period", "1h")
            page.wait_for_selector("body[data-loaded='1h']", timeout=15_000)
            assert page.text_content("#total-executions") == "3"
            assert rows.count() == 1
        finally:
            browser.close()
    assert errors == []
