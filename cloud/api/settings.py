"""The API's one settings object (pydantic-settings, env prefix ``INDEKLIMA_API_``).

People log in with their own accounts (`cloud.accounts`); there are no shared role tokens. The
accounts database must be at the newest schema (``indeklima db upgrade``) before the API starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "INDEKLIMA_API_"


class ApiSettings(BaseSettings):
    """``INDEKLIMA_API_ACCOUNTS_URL``, ``INDEKLIMA_API_ALERTS_URL``, ``INDEKLIMA_API_RUNS_URL``,
    ``INDEKLIMA_API_TARIFF``, ``INDEKLIMA_API_HOST``, ``INDEKLIMA_API_PORT``,
    ``INDEKLIMA_API_SESSION_HOURS``, ``INDEKLIMA_API_MAX_BODY_BYTES``,
    ``INDEKLIMA_API_THREADS``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    accounts_url: str = "sqlite:///accounts.db"
    """SQLAlchemy URL of the accounts database (users, sessions, consent, audit)."""
    alerts_url: str = "sqlite:///alerts.sqlite"
    """SQLAlchemy URL of the alert store the jobs write (``indeklima jobs``)."""
    runs_url: str = "sqlite:///settlement_runs.db"
    """SQLAlchemy URL of the settlement runs (same database as ``indeklima settle --runs-db``)."""
    tariff: Path | None = None
    """Tariff TOML for new settlements; default the shipped tariff."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 12.0
    """How long a login lasts (then log in again)."""
    max_body_bytes: Annotated[int, Field(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    """Larger request bodies are refused with 413 before they are read."""
    threads: Annotated[int, Field(ge=1, le=1000)] = 40
    """Requests a process works on at once (the thread pool of the blocking handlers; 40 is
    anyio's default). With the SQLite store the work is CPU in Python, and threads of one
    process only take turns at the GIL — SQLite hands it back at every row — so 8 at once cost
    twice the CPU per request of 1 (bench/bench_climate.py): there, use 1-2 threads and
    ``indeklima api --workers`` one per core. Against InfluxDB (waiting on HTTP) more help."""
