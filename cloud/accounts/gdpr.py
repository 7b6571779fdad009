"""A person's rights under GDPR: what is stored about them (Art. 15, for the export) and erasure
(Art. 17), requested by the person and completed by an admin.

Erasure deletes the person's account data — password hash, name, sessions, login attempts,
their links to flats and their roles — and keeps, by law or as the record that others' access
was lawful: the audit trail (who read or changed what, GDPR Art. 5(2) accountability), the
consent history (the legal basis of staff reads), and the settlement runs with their documents
(the basis of approved heating settlements: bogføringsloven § 10 keeps accounting material
for 5 years; BEK 734 on individual heat metering). The flat's readings stay in the time-series
store: they belong to the flat and are the basis of its heating settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from cloud.accounts import audit as audit_log
from cloud.accounts.audit import AuditAction
from cloud.accounts.models import (
    ErasureRequest,
    LoginAttempt,
    Resident,
    RoleAssignment,
    SessionRow,
    User,
    utc,
)
from cloud.accounts.principal import Principal

KEPT: Final = (
    "revisionssporet (hvem så eller ændrede hvad) – ansvarlighed, GDPR art. 5(2) / the audit "
    "trail (who saw or changed what) – accountability, GDPR Art. 5(2)",
    "samtykkehistorikken for lejligheden – grundlaget for personalets adgang / the flat's "
    "consent history – the legal basis of staff access",
    "varmeregnskabernes kørsler og opgørelser – grundlaget for godkendte varmeregnskaber, "
    "bogføringsloven § 10 (5 år) / heating settlement runs and statements – the basis of "
    "approved heating settlements, Danish Bookkeeping Act § 10 (5 years)",
    "lejlighedens målinger – lejlighedens og grundlaget for dens varmeregnskab / the flat's "
    "readings – they belong to the flat and are the basis of its heating settlement",
)
DELETED: Final = (
    "navn, brugernavn og adgangskode (kontoen lukkes) / name, username and password (the "
    "account is closed)",
    "sessioner og loginforsøg / sessions and login attempts",
    "tilknytning til lejligheder og roller / links to flats and roles",
)


@dataclass(frozen=True, slots=True)
class Erasure:
    id: int
    username: str
    requested_at: datetime
    completed_at: datetime | None
    completed_by: str | None


def _erasure(row: ErasureRequest) -> Erasure:
    return Erasure(
        row.id,
        row.username,
        utc(row.requested_at),
        utc(row.completed_at) if row.completed_at else None,
        row.completed_by,
    )


def personal_data(engine: Engine, user_id: int) -> dict[str, Any]:
    """The account's own rows: user, flats, roles, sessions (no token hashes), login attempts,
    erasure requests."""
    with Session(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            return {}
        return {
            "user": {
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
                "created_at": utc(user.created_at),
                "password_changed_at": utc(user.password_changed_at)
                if user.password_changed_at
                else None,
                "disabled": user.disabled_at is not None,
            },
            "flats": [
                {"flat": r.flat_id, "since": utc(r.since)}
                for r in session.scalars(select(Resident).where(Resident.user_id == user_id))
            ],
            "roles": [
                {"kind": r.scope_kind, "id": r.scope_id, "since": utc(r.created_at)}
                for r in session.scalars(
                    select(RoleAssignment).where(RoleAssignment.user_id == user_id)
                )
            ],
            "sessions": [
                {
                    "created_at": utc(s.created_at),
                    "expires_at": utc(s.expires_at),
                    "revoked_at": utc(s.revoked_at) if s.revoked_at else None,
                    "address": s.address,
                }
                for s in session.scalars(
                    select(SessionRow).where(SessionRow.user_id == user_id).order_by(SessionRow.id)
                )
            ],
            "login_attempts": [
                {"at": utc(a.at), "address": a.address, "success": a.success}
                for a in session.scalars(
                    select(LoginAttempt)
                    .where(LoginAttempt.username == user.username)
                    .order_by(LoginAttempt.id)
                )
            ],
            "erasure_requests": [
                _as_dict(_erasure(e))
                for e in session.scalars(
                    select(ErasureRequest).where(ErasureRequest.user_id == user_id)
                )
            ],
        }


def _as_dict(erasure: Erasure) -> dict[str, Any]:
    return {
        "id": erasure.id,
        "requested_at": erasure.requested_at,
        "completed_at": erasure.completed_at,
        "completed_by": erasure.completed_by,
    }


def request_erasure(engine: Engine, now: datetime, who: Principal, address: str | None) -> Erasure:
    """Record the person's request (one open request at a time: an open one is returned)."""
    with Session(engine) as session, session.begin():
        open_request = session.scalar(
            select(ErasureRequest).where(
                ErasureRequest.user_id == who.user_id, ErasureRequest.completed_at.is_(None)
            )
        )
        if open_request is not None:
            return _erasure(open_request)
        row = ErasureRequest(
            user_id=who.user_id, username=who.username, requested_at=now, report=""
        )
        session.add(row)
        audit_log.append(session, now, who, AuditAction.ERASURE_REQUESTED, address=address)
        session.flush()
        return _erasure(row)


def erasure_requests(engine: Engine, *, open_only: bool = False) -> list[Erasure]:
    with Session(engine) as session:
        stmt = select(ErasureRequest).order_by(ErasureRequest.id)
        if open_only:
            stmt = stmt.where(ErasureRequest.completed_at.is_(None))
        return [_erasure(r) for r in session.scalars(stmt)]


def complete_erasure(
    engine: Engine, now: datetime, request_id: int, by: Principal, address: str | None
) -> Erasure:
    """Erase the account of request `request_id` (see the module docstring for what is kept).
    Raises `KeyError` for an unknown request, `ValueError` for one already completed."""
    with Session(engine) as session, session.begin():
        row = session.get(ErasureRequest, request_id)
        if row is None:
            raise KeyError(request_id)
        if row.completed_at is not None:
            raise ValueError(
                f"anmodning {request_id} er allerede gennemført / request {request_id} was "
                "already completed"
            )
        user = session.get(User, row.user_id)
        if user is not None:
            old_name = user.username
            session.execute(delete(SessionRow).where(SessionRow.user_id == user.id))
            session.execute(delete(LoginAttempt).where(LoginAttempt.username == old_name))
            session.execute(delete(Resident).where(Resident.user_id == user.id))
            session.execute(delete(RoleAssignment).where(RoleAssignment.user_id == user.id))
            user.username = f"slettet-{user.id}"
            user.display_name = ""
            user.password_hash = None
            user.disabled_at = now
            user.erased_at = now
        row.completed_at = now
        row.completed_by = by.username
        row.report = "kept: " + " | ".join(KEPT)
        audit_log.append(
            session,
            now,
            by,
            AuditAction.ERASURE_COMPLETED,
            address=address,
            detail={"request": request_id, "user_id": row.user_id},
        )
        session.flush()
        return _erasure(row)
