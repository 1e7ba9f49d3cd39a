"""Fault injection: added latency and random 503s, changeable while the shop runs."""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import anyio
from litestar import Request, Response
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from demo.settings import Faults

# Route handlers whose ``opt`` sets this are never slowed or failed: the control
# endpoints must keep working so a person can switch the faults off again.
EXEMPT_OPT = "exempt_from_faults"


class FaultInjector:
    """The faults in force for one app instance, and the hook that applies them."""

    __slots__ = ("_faults", "_initial", "_initial_paths", "_paths", "_random")

    def __init__(
        self,
        *,
        faults: Faults,
        path_faults: Mapping[str, Faults],
        rng: random.Random,
    ) -> None:
        self._initial = faults
        self._initial_paths = MappingProxyType(dict(path_faults))
        self._random = rng
        self._faults = faults
        self._paths: Mapping[str, Faults] = self._initial_paths

    @property
    def faults(self) -> Faults:
        """Shop-wide faults currently in force."""
        return self._faults

    @property
    def path_faults(self) -> Mapping[str, Faults]:
        """Per-path overrides currently in force."""
        return self._paths

    def update(self, *, faults: Faults, path_faults: Mapping[str, Faults] | None = None) -> None:
        """Replace the shop-wide faults, and the per-path ones when given."""
        self._faults = faults
        if path_faults is not None:
            self._paths = MappingProxyType(dict(path_faults))

    def reset(self) -> None:
        """Go back to the faults the app was started with."""
        self._faults = self._initial
        self._paths = self._initial_paths

    def faults_for(self, path: str) -> Faults:
        """The faults for ``path``: the longest matching override, else the shop-wide ones."""
        matches = [prefix for prefix in self._paths if _under(path, prefix)]
        return self._paths[max(matches, key=len)] if matches else self._faults

    async def before_request(self, request: Request[Any, Any, Any]) -> Response[object] | None:
        """Delay the request, then maybe answer 503 instead of the handler."""
        if request.route_handler.opt.get(EXEMPT_OPT):
            return None
        faults = self.faults_for(request.url.path)
        if faults.latency_ms:
            # Simulated server latency: the whole point of this switch is to wait.
            await anyio.sleep(faults.latency_ms / 1000)
        if faults.failure_rate and self._random.random() < faults.failure_rate:
            return Response(
                {"status_code": 503, "detail": "injected failure"},
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                headers={"X-Fault-Injected": "true"},
            )
        return None


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it (``/api/cart`` matches, ``/api/carts`` not)."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""
