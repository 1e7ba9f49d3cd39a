"""Apprise URLs: whether one parses, and how to mention one without its credentials.

Apprise URLs carry credentials (``mailto://user:password@host``, tokens in paths and
queries), so the config loader, the sender and every message that names a URL use
``mask_url``. Kept apart from ``tasks.notify`` (which sends) so that validating a config
does not import the sending side.
"""

from __future__ import annotations

import re
from typing import Any

from wfmon.secrets import MASK

__all__ = ["instantiate", "mask_url", "url_problem"]

_HOST_NAME = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost")


def mask_url(url: str) -> str:
    """``url`` reduced to its scheme and network host: ``mailto://***@smtp.example.com``.

    User info becomes ``***@``, any path, query or fragment ``/***``. A "host" that is not
    a host name or IP address (``tgram://BOT_TOKEN/chat``, ``discord://WEBHOOK_ID/...``)
    is often a credential itself, so it is masked too; text that is no URL at all is
    masked whole.
    """
    scheme, separator, rest = url.strip().partition("://")
    if not separator or not scheme:
        return MASK
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    _, at, hostport = netloc.rpartition("@")
    host = hostport if _is_network_host(hostport) else MASK
    return f"{scheme}://{MASK + '@' if at else ''}{host}{'/' + MASK if tail.strip('/') else ''}"


def instantiate(url: str) -> Any | None:
    """The Apprise service for one URL, or None when Apprise cannot parse it."""
    # One URL, one service. Apprise.add(str) would split a string on commas and spaces
    # and accept it if any part parsed.
    import apprise  # 0.3 s to import: only configs with channels pay for it

    return apprise.Apprise.instantiate(url)


def url_problem(url: str) -> str | None:
    """Why ``url`` is no usable Apprise URL (masked), or None when it is one."""
    if instantiate(url) is None:
        return f"invalid Apprise URL {mask_url(url)}"
    return None


def _is_network_host(hostport: str) -> bool:
    if hostport.startswith("["):  # IPv6 literal
        address, bracket, port = hostport[1:].partition("]")
        return bool(address and bracket) and (not port or port[1:].isdigit())
    host, _, port = hostport.partition(":")
    # Apprise's privacy ellipsis ("1...3") is no host name either: empty labels.
    return bool(_HOST_NAME.fullmatch(host)) and (not port or port.isdigit())
