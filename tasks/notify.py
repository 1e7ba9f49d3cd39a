"""Send one message to one channel's Apprise URLs, and say how it went without leaking them.

Apprise URLs carry credentials (``mailto://user:password@host``, tokens in paths and
queries), and Apprise's own log lines and errors quote URLs. So:

- every URL we mention goes through ``mask_url`` (scheme and network host, nothing
  else), and every error we return through the config's ``Redactor``;
- importing this module adds a filter to Apprise's logger that masks URLs in its
  records before any handler (ours, Apprise's per-call capture, the root's) sees them.
  Apprise's own privacy mode still shows the user name and the first and last
  character of a password (``p...1``), which for short secrets is most of them.

Failed deliveries are data (``DeliveryOutcome``), not exceptions: SPEC §5 stores every
delivery with its outcome and retries failed ones, so a receiver being down is an
expected result. ``DeliveryOutcome.raise_for_failure`` turns one into a
``tasks.retry.RetryableError`` for ``with_retry``. Only our own faults raise (e.g. a
negative timeout, which Apprise refuses).

The error message comes from the Apprise result's per-call log capture
(``AppriseResult.logs()``, WARNING and up) rather than ``apprise.LogCapture``: that one
attaches to the process-wide logger, so two deliveries running at once (``adeliver`` in
threads) would read each other's lines.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import apprise

from tasks.messages import NotifyType
from tasks.retry import RetryableError
from wfmon.channels import instantiate, mask_url
from wfmon.results import ErrorType
from wfmon.secrets import MASK, Redactor

__all__ = [
    "DeliveryOutcome",
    "adeliver",
    "check_channel_urls",
    "deliver",
    "mask_url",
]

DEFAULT_TIMEOUT_S = 10.0
_REPORTED_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
# A URL inside free text: scheme://, then anything up to whitespace or a quote, less
# trailing punctuation ("... to json://host/x: failed" keeps its colon).
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^\s'\"<>]*[^\s'\"<>.,;:!?)\]])?")
# requests/urllib3 errors quote the path alone: "Max retries exceeded with url: /hook/TOKEN".
_PATH_IN_TEXT = re.compile(r"(with url: )\S+")


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How one delivery went; ``error`` is safe to store and show (credentials masked)."""

    success: bool
    error: str | None = None
    # How tasks.classify should treat a failure: PERMANENT for a bad URL (retrying cannot
    # help), TIMEOUT when Apprise gave up waiting, TRANSIENT otherwise. Apprise does not
    # say whether a webhook answered 500 or 401, and a notification must not be lost, so
    # an unexplained failure is assumed to be worth retrying (the caller bounds attempts).
    error_type: ErrorType | None = None

    def raise_for_failure(self) -> None:
        """Raise ``RetryableError`` if the delivery failed, for use inside ``with_retry``."""
        if not self.success:
            raise RetryableError(
                self.error or "delivery failed", error_type=self.error_type or ErrorType.UNKNOWN
            )


def check_channel_urls(channels: Mapping[str, Sequence[str]]) -> list[str]:
    """Every problem with the config's channels (``[]`` if none), URLs masked.

    Each URL must parse as an Apprise URL; a channel with no URLs would deliver nothing.
    Nothing is sent and nothing connects.
    """
    problems: list[str] = []
    for name, urls in channels.items():
        if not urls:
            problems.append(f"channels.{name}: no Apprise URLs")
        for index, url in enumerate(urls):
            if instantiate(url) is None:
                problems.append(f"channels.{name}[{index}]: invalid Apprise URL {mask_url(url)}")
    return problems


def deliver(
    *,
    urls: Sequence[str],
    title: str,
    body: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    channel: str | None = None,
    notify_type: NotifyType = "info",
    redactor: Redactor | None = None,
) -> DeliveryOutcome:
    """Send ``title`` / ``body`` to every URL of a channel; blocks up to ``timeout_s``.

    Success means every URL accepted it. A URL Apprise cannot parse fails the whole
    delivery before anything is sent: sending to the others and retrying would repeat
    the message to them on every attempt. ``channel`` only names the channel in errors;
    ``redactor`` (the config's secrets) is applied to the error text.
    """
    redact = redactor or Redactor()
    label = f"channel {channel!r}" if channel else "channel"
    if not urls:
        return _failure(f"no Apprise URLs for {label}", ErrorType.PERMANENT, redact)
    notifier = apprise.Apprise()
    for url in urls:
        service = instantiate(url)
        if service is None:
            message = f"invalid Apprise URL for {label}: {mask_url(url)}"
            return _failure(message, ErrorType.PERMANENT, redact)
        notifier.add(service)
    with notifier.notify(
        body=body,
        title=title,
        notify_type=notify_type,
        body_format=apprise.NotifyFormat.TEXT,
        timeout=timeout_s,
    ) as result:
        if result:  # AppriseResult is truthy only on SUCCESS; never compare it to True
            return DeliveryOutcome(success=True)
        error, error_type = _describe(result, timeout_s=timeout_s)
    return _failure(f"delivery to {label} failed: {error}", error_type, redact)


async def adeliver(
    *,
    urls: Sequence[str],
    title: str,
    body: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    channel: str | None = None,
    notify_type: NotifyType = "info",
    redactor: Redactor | None = None,
) -> DeliveryOutcome:
    """``deliver`` in a worker thread: Apprise's sends block (requests, smtplib)."""
    return await asyncio.to_thread(
        deliver,
        urls=urls,
        title=title,
        body=body,
        timeout_s=timeout_s,
        channel=channel,
        notify_type=notify_type,
        redactor=redactor,
    )


def _describe(result: Any, *, timeout_s: float) -> tuple[str, ErrorType]:
    problems: list[str] = []
    timed_out = failed = False
    for service in result:
        if service:
            continue
        lines = [entry.message for entry in service.logs() if entry.level in _REPORTED_LEVELS]
        if service.status.name == "TIMEOUT":
            timed_out = True
            lines.append(f"no answer within {timeout_s:g}s")
        else:
            failed = True
        problems.append(f"{service.name} {mask_url(service.url)}: {'; '.join(lines) or 'failed'}")
    if not problems:  # nothing was dispatched: the call itself failed
        problems = [e.message for e in result.call_logs() if e.level in _REPORTED_LEVELS]
        failed = True
    text = " | ".join(problems) or f"Apprise reported {result.status.name}"
    return text, ErrorType.TIMEOUT if timed_out and not failed else ErrorType.TRANSIENT


def _failure(message: str, error_type: ErrorType, redact: Redactor) -> DeliveryOutcome:
    return DeliveryOutcome(success=False, error=redact(_mask_text(message)), error_type=error_type)


def _mask_text(text: str) -> str:
    text = _URL_IN_TEXT.sub(lambda match: mask_url(match.group()), text)
    return _PATH_IN_TEXT.sub(rf"\g<1>/{MASK}", text)


class _MaskURLs(logging.Filter):
    """Masks URLs in a record's text before any handler formats or stores it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would anyway
            return True
        masked = _mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _mask_apprise_logs() -> None:
    # A logger filter (not a handler filter) runs for every record Apprise logs, whoever
    # listens. Apprise logs through the single "apprise" logger; idempotent on re-import.
    apprise_logger = logging.getLogger(apprise.LOGGER_NAME)
    if not any(isinstance(f, _MaskURLs) for f in apprise_logger.filters):
        apprise_logger.addFilter(_MaskURLs())


_mask_apprise_logs()
