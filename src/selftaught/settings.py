"""Environment-only knobs (prefix ``SELFTAUGHT_``). Everything about *what* to run lives in
the recipe; this is *where* and *how much machine*."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SELFTAUGHT_", extra="ignore")

    db_url: str = Field("sqlite:///selftaught.db", description="SQLAlchemy URL of the store.")
    home: Path = Field(Path("selftaught-home"), description="Where checkpoints and plots go.")
    torch_threads: int = Field(
        0, description="torch intra-op threads; 0 = one per core (use 1 on a loaded box)."
    )


def get_settings() -> Settings:
    return Settings()
