"""Loaded configs, cached per path until one of the files changes.

Flow runs re-read the config on every run (a served deployment picks up edits), but
parsing and validating the same unchanged files again would be wasted work.
"""

from __future__ import annotations

import functools
from pathlib import Path

from wfmon.config import Config, load_config, resolve_config_path


def _fingerprint(path: Path) -> tuple[tuple[str, int], ...]:
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return tuple((str(file), file.stat().st_mtime_ns) for file in files)


@functools.lru_cache(maxsize=8)
def _load(path: Path, fingerprint: tuple[tuple[str, int], ...]) -> Config:
    del fingerprint  # part of the cache key only
    return load_config(path)


def cached_config(config_path: str | None) -> Config:
    """The config at ``config_path`` (or WFMON_CONFIG, or ./wfmon.yaml); raises ConfigError."""
    path = resolve_config_path(config_path).resolve()
    return _load(path, _fingerprint(path))
