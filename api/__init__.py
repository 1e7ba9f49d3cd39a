"""The HTTP API and dashboard (Litestar), SPEC §6: ``create_app(engine=..., api_token=...)``."""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
