"""A small shop web application for wfmon to monitor, with switchable faults."""

from __future__ import annotations

from demo.app import create_app
from demo.settings import Faults, ShopSettings

__all__ = ["Faults", "ShopSettings", "create_app"]
