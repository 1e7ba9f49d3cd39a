"""Process settings from the environment (and ``.env``), SPEC §3."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./wfmon.db"


class Settings(BaseSettings):
    """``WFMON_*`` variables; read once at command start."""

    model_config = SettingsConfigDict(env_prefix="WFMON_", env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    config: str | None = None
    api_token: str | None = None
    public_url: str | None = None

    @property
    def embedded_database(self) -> bool:
        """True for the default SQLite file, which wfmon migrates by itself."""
        return self.database_url.startswith("sqlite")
