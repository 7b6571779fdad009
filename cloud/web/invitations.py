"""Residents invited with a one-time activation code, the way letters to tenants work.

An admin creates the resident's account (with a random password nobody knows) and gets a code
to print in a letter; the resident opens ``/activate``, types user name, code and a new
password, and is logged in. A code is stored only as an argon2 hash (the accounts' hasher),
works once, expires after `CODE_TTL`, and is void after `MAX_FAILURES` wrong tries (the admin
issues a new one). Kept in the accounts database, table ``invitations``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import DateTime, Engine, Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from cloud.accounts.passwords import Passwords

CODE_TTL: Final = timedelta(days=30)
MAX_FAILURES: Final = 5
ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""No 0/O, 1/I: a code is read from paper and typed by hand."""
CODE_CHARS: Final = 12
"""12 of 32 symbols: 60 bits, with 5 tries per code."""


class InvitationError(ValueError):
    """The code does not open an account; the message (Danish / English) says why."""


class _Base(DeclarativeBase):
    pass


class _InvitationRow(_Base):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(code: str) -> str:
    """What the resident typed, as issued: case, spaces and dashes do not matter."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True, slots=True)
class Invitation:
    username: str
    code: str
    expires_at: datetime


class Invitations:
    def __init__(self, engine: Engine, passwords: Passwords) -> None:
        self._engine = engine
        self._passwords = passwords
        _Base.metadata.create_all(engine)

    def issue(self, username: str, *, by: str, now: datetime | None = None) -> Invitation:
        """A new code for `username`; earlier unused codes of the user stop working."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        code = new_code()
        with Session(self._engine) as session, session.begin():
            for row in session.scalars(
                select(_InvitationRow).where(
                    _InvitationRow.username == username, _InvitationRow.used_at.is_(None)
                )
            ):
                row.failures = MAX_FAILURES
            session.add(
                _InvitationRow(
                    username=username,
                    code_hash=self._passwords.hash(code),
                    created_at=moment,
                    expires_at=moment + CODE_TTL,
                    created_by=by,
                    failures=0,
                )
            )
        return Invitation(username, code, moment + CODE_TTL)

    def redeem(self, username: str, code: str, *, now: datetime | None = None) -> None:
        """Use the code once; `InvitationError` when it is wrong, used, expired or void."""
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        typed = normalise_code(code)
        problem: str | None = None
        with Session(self._engine) as session, session.begin():
            row = session.scalar(
                select(_InvitationRow)
                .where(_InvitationRow.username == username, _InvitationRow.used_at.is_(None))
                .order_by(_InvitationRow.id.desc())
                .limit(1)
                .with_for_update()
            )
            if row is None or row.failures >= MAX_FAILURES or _utc(row.expires_at) <= moment:
                self._passwords.verify(None, typed)  # the same time as a real check
                problem = (
                    "Koden virker ikke (forkert, brugt, udløbet eller spærret efter for mange "
                    "forsøg); bed ejendomskontoret om en ny / the code does not work (wrong, "
                    "used, expired or blocked after too many tries); ask the estate office for "
                    "a new one"
                )
            elif not self._passwords.verify(row.code_hash, typed):
                row.failures += 1  # committed with the block, before the error is raised
                left = MAX_FAILURES - row.failures
                problem = f"Forkert kode; {left} forsøg tilbage / wrong code; {left} tries left"
            else:
                row.used_at = moment
        if problem is not None:
            raise InvitationError(problem)
