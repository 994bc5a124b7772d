"""One typed settings object, read from the environment (``LEADRANK_`` prefix).

``DATABASE_URL`` and ``OPENAI_API_KEY`` are also read without the prefix because that is
what users (and PaaS providers) set.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADRANK_", env_file=".env", extra="ignore")

    # --- deployment -----------------------------------------------------------------
    env: str = Field("development", description="development | production | test")
    data_dir: Path = Field(Path("./data"), description="Uploads, exports, models, SQLite file.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "LEADRANK_DATABASE_URL"),
        description="postgresql://… switches to PostgreSQL; default is SQLite in data_dir.",
    )
    secret_key: str = Field(DEV_SECRET, description="Signs session cookies and CSRF tokens.")
    host: str = "127.0.0.1"
    port: int = 8000

    # --- jobs -------------------------------------------------------------------------
    queue_url: str | None = Field(None, description="redis://… selects the Redis queue.")
    job_workers: int = Field(1, description="Threads of the in-process job runner.")
    queue_name: str = Field("leadrank", description="Redis queue the workers consume.")
    queue_heartbeat_timeout_ms: int = Field(
        60_000, description="A worker silent this long is dead; its unacked messages are redelivered.")
    queue_maintenance_chance: int = Field(
        1_000, description="Per million broker commands: how often dead workers' messages are swept.")
    upload_chunk_rows: int = Field(20_000, description="Rows read and committed together.")
    upload_writers: int = Field(
        2, description="Chunks of a lead upload written at once on PostgreSQL (each its own transaction, "
                       "committed in file order); 1 writes them one by one. SQLite always writes one.")
    max_upload_mb: int = Field(1024, description="Largest accepted upload file.")

    # --- operations ---------------------------------------------------------------------
    log_format: str = Field("text", description="text | json (one JSON object per line).")
    log_level: str = Field("INFO", description="DEBUG | INFO | WARNING | ERROR.")

    # --- embeddings -------------------------------------------------------------------
    openai_api_key: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "LEADRANK_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "LEADRANK_OPENAI_BASE_URL")
    )
    embedding_provider: str = Field("auto", description="auto | local | openai")
    openai_embedding_model: str = "text-embedding-3-small"

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        # Users paste Heroku-style URLs; SQLAlchemy needs the psycopg 3 driver named.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'leadrank.db').resolve()}"

    @property
    def is_postgres(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql")

    def check_production(self) -> None:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise RuntimeError("LEADRANK_SECRET_KEY must be set in production")

    def ensure_dirs(self) -> None:
        for sub in ("", "uploads", "exports", "models"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)


@lru_cache
def get_settings() -> Settings:
    return Settings()
