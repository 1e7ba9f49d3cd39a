"""How a demo shop instance is configured: the demo user and the faults to inject."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_USER = "demo@example.com"
DEFAULT_PASSWORD = "demo-password"


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Latency and failure probability injected into requests."""

    latency_ms: int = 0
    failure_rate: float = 0.0  # 0..1: the chance that a request answers 503

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms}")
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within 0..1, got {self.failure_rate}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopSettings:
    """Everything a shop instance needs; build one per app, nothing is global."""

    user_email: str = DEFAULT_USER
    user_password: str = DEFAULT_PASSWORD
    latency_ms: int = 0
    failure_rate: float = 0.0
    # Path prefix -> faults for just that part of the shop, e.g. {"/api/checkout": ...},
    # so a person can break one journey while the others stay green.
    path_faults: Mapping[str, Faults] = field(default_factory=dict)
    # Seeds the fault dice: the same settings fail the same requests, run after run.
    seed: int = 0

    def __post_init__(self) -> None:
        # Validates the numbers once, here, with the same rules as runtime changes.
        Faults(latency_ms=self.latency_ms, failure_rate=self.failure_rate)
        # A read-only copy keeps the frozen promise even when given a dict.
        object.__setattr__(self, "path_faults", MappingProxyType(dict(self.path_faults)))

    @property
    def faults(self) -> Faults:
        """The shop-wide faults these settings start with."""
        return Faults(latency_ms=self.latency_ms, failure_rate=self.failure_rate)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ShopSettings:
        """Settings from ``SHOP_*`` variables (``os.environ`` unless given)."""
        env = os.environ if environ is None else environ
        return cls(
            user_email=env.get("SHOP_USER", DEFAULT_USER),
            user_password=env.get("SHOP_PASSWORD", DEFAULT_PASSWORD),
            latency_ms=int(env.get("SHOP_LATENCY_MS", "0")),
            failure_rate=float(env.get("SHOP_FAILURE_RATE", "0")),
            seed=int(env.get("SHOP_SEED", "0")),
        )
