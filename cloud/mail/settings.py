"""The mailer's one settings object (pydantic-settings, env prefix ``INDEKLIMA_MAIL_``).

Checked when made: a from-address, an http(s) base URL for the links, a port in range, and the
SMTP password from exactly one place — ``INDEKLIMA_MAIL_PASSWORD`` or a file named by
``INDEKLIMA_MAIL_PASSWORD_FILE`` (a mounted secret), never a command-line argument.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX: Final = "INDEKLIMA_MAIL_"


class Security(StrEnum):
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS (port 587, RFC 3207); refused if not offered."""
    SSL = "ssl"
    """TLS from the first byte (port 465, RFC 8314 "implicit TLS")."""
    NONE = "none"
    """No encryption: only for a relay on the same machine (localhost) or tests."""


class MailSettings(BaseSettings):
    """``INDEKLIMA_MAIL_HOST``, ``_PORT``, ``_SECURITY`` (starttls|ssl|none), ``_USERNAME``,
    ``_PASSWORD`` or ``_PASSWORD_FILE``, ``_FROM_ADDRESS``, ``_BASE_URL``, ``_CA_FILE``,
    ``_TIMEOUT_S``, ``_MAX_PER_RUN``, ``_NEW_FOR_HOURS``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Security = Security.STARTTLS
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    from_address: str
    """E.g. ``Indeklima <indeklima@boligselskab.dk>``."""
    base_url: str
    """Where residents reach the web pages, e.g. ``https://indeklima.boligselskab.dk``; the
    mail links to ``{base_url}/`` and ``{base_url}/mail/unsubscribe?token=…``."""
    ca_file: Path | None = None
    """CA certificates to trust for STARTTLS/SSL instead of the system's (a private relay)."""
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_per_run: Annotated[int, Field(ge=1, le=10_000)] = 500
    """At most this many mails per jobs run; the rest go at the next run."""
    new_for_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 48.0
    """An alert is mailed only while it is this new (raised at most this long ago), so a
    resident who opts in, or a mail server back after days, does not get a pile of old news."""

    @field_validator("from_address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        from email.utils import parseaddr

        _, address = parseaddr(value)
        if "@" not in address or any(ch in value for ch in "\r\n"):
            raise ValueError(
                f"afsenderadressen {value!r} er ikke en e-mailadresse / the from-address "
                f"{value!r} is not an e-mail address (e.g. Indeklima <indeklima@example.dk>)"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _a_web_address(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError(
                f"base_url {value!r} skal starte med https:// / base_url {value!r} must start "
                "with https://"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_password(self) -> MailSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError(
                f"sæt {ENV_PREFIX}PASSWORD eller {ENV_PREFIX}PASSWORD_FILE, ikke begge / set "
                f"{ENV_PREFIX}PASSWORD or {ENV_PREFIX}PASSWORD_FILE, not both"
            )
        if self.password_file is not None and not self.password_file.is_file():
            raise ValueError(
                f"{ENV_PREFIX}PASSWORD_FILE {self.password_file} findes ikke / does not exist"
            )
        return self

    def password_value(self) -> str | None:
        """The SMTP password (read from the file each time, so a rotated secret is used)."""
        if self.password_file is not None:
            return self.password_file.read_text(encoding="utf-8").strip()
        return self.password.get_secret_value() if self.password is not None else None
