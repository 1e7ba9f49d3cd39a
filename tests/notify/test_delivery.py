"""Delivery through Apprise to real receivers on 127.0.0.1 (tasks.notify).

The webhook and SMTP server come from ``tests.fixtures.receivers``. Credentials are put
in every part of a URL (user info, path, query) and must never show in an outcome or a
log record.
"""

from __future__ import annotations

import logging

import pytest

from tasks.notify import DeliveryOutcome, adeliver, check_channel_urls, deliver, mask_url
from tasks.retry import RetryableError
from tests.fixtures.receivers import SmtpServer, Webhook
from wfmon.results import ErrorType
from wfmon.secrets import Redactor

PASSWORD = "pw-Zq81x"
PATH_TOKEN = "path-tok-77c1"
QUERY_TOKEN = "query-tok-a0b9"
CREDENTIALS = ("alice", PASSWORD, PATH_TOKEN, QUERY_TOKEN)


def secret_url(webhook: Webhook) -> str:
    """The webhook's URL with a credential in user info, path and query."""
    return f"json://alice:{PASSWORD}@127.0.0.1:{webhook.port}/hook/{PATH_TOKEN}?k={QUERY_TOKEN}"


def assert_no_credentials(*texts: str | None) -> None:
    for text in texts:
        for credential in CREDENTIALS:
            assert credential not in (text or ""), f"{credential!r} leaked into {text!r}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything Apprise logs (DEBUG up), and WARNING up from every other logger."""
    caplog.set_level(logging.DEBUG, logger="apprise")
    return caplog


def test_delivers_to_a_json_webhook(webhook: Webhook) -> None:
    outcome = deliver(urls=[webhook.url], title="[ERROR] checkout", body="line 1\nline 2")

    assert outcome == DeliveryOutcome(success=True)
    [received] = webhook.wait_for(1)
    assert received["title"] == "[ERROR] checkout"
    assert received["message"] == "line 1\nline 2"
    assert received["type"] == "info"


async def test_adeliver_sends_from_a_worker_thread(webhook: Webhook) -> None:
    outcome = await adeliver(
        urls=[webhook.url], title="[RESOLVED] checkout", body="ok", notify_type="success"
    )

    assert outcome.success
    [received] = webhook.wait_for(1)
    assert (received["title"], received["type"]) == ("[RESOLVED] checkout", "success")


def test_delivers_mail_to_an_smtp_server(smtp_server: SmtpServer) -> None:
    outcome = deliver(
        urls=[smtp_server.apprise_url], title="[CRITICAL] checkout", body="Step: pay\nAttempts: 3"
    )

    assert outcome == DeliveryOutcome(success=True)
    [mail] = smtp_server.wait_for(1)
    assert mail["Subject"] == "[CRITICAL] checkout"
    assert (mail["From"], mail["To"]) == ("wfmon@example.com", "ops@example.com")
    assert mail.get_content().splitlines() == ["Step: pay", "Attempts: 3"]
    assert smtp_server.logins == ["wfmon"]


def test_a_rejected_smtp_login_fails_without_leaking_the_password(
    smtp_server: SmtpServer, logs: pytest.LogCaptureFixture
) -> None:
    url = smtp_server.apprise_url.replace(smtp_server.password, PASSWORD)

    outcome = deliver(urls=[url], title="t", body="b", channel="mail")

    assert not outcome.success
    assert f"mailto://***@127.0.0.1:{smtp_server.port}/***" in (outcome.error or "")
    assert smtp_server.messages == []
    assert_no_credentials(outcome.error, logs.text)


def test_every_url_of_a_channel_gets_it(webhook: Webhook, smtp_server: SmtpServer) -> None:
    outcome = deliver(urls=[webhook.url, smtp_server.apprise_url], title="t", body="b")

    assert outcome.success
    assert len(webhook.wait_for(1)) == 1
    assert len(smtp_server.wait_for(1)) == 1


def test_an_error_answer_fails_without_leaking_credentials(
    webhook: Webhook, logs: pytest.LogCaptureFixture
) -> None:
    webhook.fail_with(500)

    outcome = deliver(urls=[secret_url(webhook)], title="t", body="b", channel="ops")

    assert not outcome.success
    assert outcome.error_type is ErrorType.TRANSIENT
    assert outcome.error is not None
    assert outcome.error.startswith(
        f"delivery to channel 'ops' failed: JSON json://***@127.0.0.1:{webhook.port}/***: "
    )
    assert "error=500" in outcome.error
    assert webhook.requests[0].status == 500  # it did reach the receiver
    assert any("127.0.0.1" in r.getMessage() for r in logs.records)  # Apprise did log
    assert_no_credentials(outcome.error, logs.text, *(r.getMessage() for r in logs.records))


def test_a_refused_connection_fails(webhook: Webhook, logs: pytest.LogCaptureFixture) -> None:
    webhook.refuse()

    outcome = deliver(urls=[secret_url(webhook)], title="t", body="b", channel="ops")

    assert not outcome.success
    assert outcome.error_type is ErrorType.TRANSIENT
    assert "Connection error" in (outcome.error or "")
    assert webhook.requests == []
    assert_no_credentials(outcome.error, logs.text)


def test_a_webhook_that_recovers_gets_the_message_exactly_once(webhook: Webhook) -> None:
    def send() -> DeliveryOutcome:
        return deliver(urls=[webhook.url], title="t", body="after the outage")

    webhook.fail_with(500)
    assert not send().success
    webhook.refuse()
    assert not send().success

    webhook.recover()
    assert send().success

    assert webhook.wait_for(1) == [webhook.received[0]]
    assert webhook.received[0]["message"] == "after the outage"
    assert [r.status for r in webhook.requests] == [500, 200]  # the refused one never arrived


@pytest.mark.parametrize(
    "url",
    [
        f"foo://alice:{PASSWORD}@example.com/{PATH_TOKEN}",
        f"http://alice:{PASSWORD}@example.com",
        f"mailto://alice:{PASSWORD}@",
        "json://",
        "not a url",
        "",
    ],
    ids=[
        "unknown scheme",
        "http is no Apprise scheme",
        "mailto without host",
        "no host",
        "text",
        "empty",
    ],
)
def test_an_invalid_url_fails_without_raising_or_sending(
    url: str, webhook: Webhook, logs: pytest.LogCaptureFixture
) -> None:
    outcome = deliver(urls=[webhook.url, url], title="t", body="b", channel="ops")

    assert not outcome.success
    assert outcome.error_type is ErrorType.PERMANENT
    assert (outcome.error or "").startswith("invalid Apprise URL for channel 'ops': ")
    assert webhook.requests == []  # not even the valid URL: a retry would repeat it there
    assert_no_credentials(outcome.error, logs.text)


def test_no_urls_is_a_failure_not_a_silent_success() -> None:
    outcome = deliver(urls=[], title="t", body="b", channel="ops")

    assert outcome == DeliveryOutcome(
        False, "no Apprise URLs for channel 'ops'", ErrorType.PERMANENT
    )


def test_the_config_redactor_covers_what_masking_keeps(webhook: Webhook) -> None:
    webhook.fail_with(503)

    outcome = deliver(
        urls=[webhook.url], title="t", body="b", redactor=Redactor([f"127.0.0.1:{webhook.port}"])
    )

    assert not outcome.success
    assert "json://***/***" in (outcome.error or "")
    assert str(webhook.port) not in (outcome.error or "")


def test_apprise_log_records_are_masked(logs: pytest.LogCaptureFixture) -> None:
    logging.getLogger("apprise").error("Unparseable URL %s.", f"foo://alice:{PASSWORD}@h.example/x")

    assert "Unparseable URL foo://***@h.example/***." in logs.text
    assert_no_credentials(logs.text)


def test_raise_for_failure_feeds_the_retry_library() -> None:
    DeliveryOutcome(success=True).raise_for_failure()

    with pytest.raises(RetryableError, match="boom") as failure:
        DeliveryOutcome(False, "boom", ErrorType.TIMEOUT).raise_for_failure()

    assert failure.value.error_type is ErrorType.TIMEOUT


def test_check_channel_urls_reports_every_problem_masked() -> None:
    channels = {
        "ops": ("json://127.0.0.1:8123/hook", "mailto://u:p@smtp.example.com?to=o@example.com"),
        "broken": ("json://127.0.0.1/ok", f"foo://alice:{PASSWORD}@bad.example/{PATH_TOKEN}"),
        "empty": (),
    }

    assert check_channel_urls(channels) == [
        "channels.broken[1]: invalid Apprise URL foo://***@bad.example/***",
        "channels.empty: no Apprise URLs",
    ]


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("json://127.0.0.1:8123/hook/token", "json://127.0.0.1:8123/***"),
        ("json://127.0.0.1:8123", "json://127.0.0.1:8123"),
        ("json://127.0.0.1:8123/", "json://127.0.0.1:8123"),
        ("mailto://user:pass@smtp.example.com", "mailto://***@smtp.example.com"),
        (
            "mailtos://user:p%40ss@smtp.example.com:465?to=a@b.example",
            "mailtos://***@smtp.example.com:465/***",
        ),
        ("json://user:pa@ss@host.example/x", "json://***@host.example/***"),
        ("jsons://hook.example?token=abc", "jsons://hook.example/***"),
        ("json://localhost:8080#frag", "json://localhost:8080/***"),
        ("json://[::1]:8080/hook", "json://[::1]:8080/***"),
        ("tgram://123456:AAbbCCdd/987", "tgram://***/***"),
        ("discord://4417/webhook-token", "discord://***/***"),
        ("slack://T1/B2/C3", "slack://***/***"),
        ("json://host.example:notaport/x", "json://***/***"),
        ("json://", "json://***"),
        ("not a url", "***"),
        ("://host.example", "***"),
        ("", "***"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked
