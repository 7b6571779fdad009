"""The API's one settings object (pydantic-settings, env prefix ``INDEKLIMA_API_``).

Checked when it is made, so a server never starts without proper secrets: each role's bearer
token must be set, at least `MIN_TOKEN_CHARS` long, without whitespace, and the two must differ.
A token of 24 URL-safe characters carries 144 bits (``secrets.token_urlsafe(18)``), well above
the 112 bits NIST SP 800-63B asks of look-up secrets (§5.1.2.1, 2017).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "INDEKLIMA_API_"
MIN_TOKEN_CHARS: Final = 24
_MAKE_ONE: Final = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class ApiSettings(BaseSettings):
    """``INDEKLIMA_API_TECHNICIAN_TOKEN``, ``INDEKLIMA_API_FINANCE_TOKEN`` (required), and
    ``INDEKLIMA_API_ALERTS_URL``, ``INDEKLIMA_API_RUNS_URL``, ``INDEKLIMA_API_TARIFF``,
    ``INDEKLIMA_API_HOST``, ``INDEKLIMA_API_PORT``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    technician_token: SecretStr | None = None
    """Bearer token of the technician role (alerts, buildings, climate summaries)."""
    finance_token: SecretStr | None = None
    """Bearer token of the finance role (buildings, heat shares, settlements)."""
    alerts_url: str = "sqlite:///alerts.sqlite"
    """SQLAlchemy URL of the alert store the jobs write (``indeklima jobs``)."""
    runs_url: str = "sqlite:///settlement_runs.db"
    """SQLAlchemy URL of the settlement runs (same database as ``indeklima settle --runs-db``)."""
    tariff: Path | None = None
    """Tariff TOML for new settlements; default the shipped tariff."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000

    @model_validator(mode="after")
    def _tokens_are_usable(self) -> ApiSettings:
        problems: list[str] = []
        for name in ("technician_token", "finance_token"):
            env = f"{ENV_PREFIX}{name.upper()}"
            secret: SecretStr | None = getattr(self, name)
            token = secret.get_secret_value() if secret is not None else ""
            if not token:
                problems.append(
                    f"{env} mangler: sæt den til en tilfældig nøgle på mindst {MIN_TOKEN_CHARS} "
                    f"tegn, fx fra `{_MAKE_ONE}` / {env} is missing: set it to a random key of "
                    f"at least {MIN_TOKEN_CHARS} characters"
                )
            elif len(token) < MIN_TOKEN_CHARS or any(ch.isspace() for ch in token):
                problems.append(
                    f"{env} er for kort ({len(token)} tegn) eller har mellemrum: brug mindst "
                    f"{MIN_TOKEN_CHARS} tegn uden mellemrum, fx fra `{_MAKE_ONE}` / {env} is "
                    f"too short ({len(token)} characters) or has whitespace: use at least "
                    f"{MIN_TOKEN_CHARS} characters without whitespace"
                )
        if (
            not problems
            and self.technician_token is not None
            and self.finance_token is not None
            and self.technician_token.get_secret_value() == self.finance_token.get_secret_value()
        ):
            problems.append(
                f"{ENV_PREFIX}TECHNICIAN_TOKEN og {ENV_PREFIX}FINANCE_TOKEN er ens: giv hver "
                "rolle sin egen nøgle / the technician and finance tokens are equal: give each "
                "role its own token"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self
