"""The accounts tables (SQLAlchemy 2): organisations, buildings, flats, users, residents, role
assignments, sessions, consent history, audit log, login attempts, erasure requests.

The schema is made by the Alembic migrations in ``migrations/`` (``indeklima db upgrade``), never
by ``create_all``; a test checks that the migrations and these models agree. Times are stored as
timezone-aware UTC (``DateTime(timezone=True)``; SQLite keeps them as text and `utc` puts the zone
back). ``audit_log`` and ``consents`` are append-only: database triggers refuse UPDATE and DELETE.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LEN = 64
NAME_LEN = 200


class Base(DeclarativeBase):
    pass


def utc(moment: datetime) -> datetime:
    """The moment as aware UTC (SQLite hands stored times back without their zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))


class BuildingRow(Base):
    __tablename__ = "buildings"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id"), nullable=True
    )


class FlatRow(Base):
    """A flat; its id is unique across buildings (the API addresses flats by id alone)."""

    __tablename__ = "flats"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    building_id: Mapped[str] = mapped_column(ForeignKey("buildings.id"), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_LEN))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Resident(Base):
    """A resident user's tenancy of a flat: [since, until). ``until`` is the move-out (the
    first instant they no longer live there; NULL: still living there). A moved-out resident's
    row stays: it is the period their export and erasure cover (`cloud.accounts.scope`)."""

    __tablename__ = "residents"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    flat_id: Mapped[str] = mapped_column(ForeignKey("flats.id"), primary_key=True, index=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RoleAssignment(Base):
    """A staff user's scope: a building (technician, finance) or an organisation (finance)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "scope_kind", "scope_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    scope_kind: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[str] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SessionRow(Base):
    """A login session; only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ConsentRow(Base):
    """One grant or withdrawal; a flat's current consent is its latest row."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_flat_id_id", "flat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flat_id: Mapped[str] = mapped_column(ForeignKey("flats.id"))
    staff_detail: Mapped[bool] = mapped_column(Boolean)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(ID_LEN))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRow(Base):
    """Who did what to which flat/run, when and from where (append-only)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    username: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    flat_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True, index=True)
    building_id: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(ID_LEN))
    address: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(Boolean)


class ErasureRequest(Base):
    __tablename__ = "erasure_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(ID_LEN))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(ID_LEN), nullable=True)
    report: Mapped[str] = mapped_column(Text, default="")
