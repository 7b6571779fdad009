"""A person's rights under GDPR: what is stored about them (Art. 15, for the export) and erasure
(Art. 17), requested by the person and completed by an admin.

Erasure deletes the person's account data — password hash, name, sessions, login attempts,
their links to flats and their roles — and keeps, by law or as the record that others' access
was lawful: the audit trail (who read or changed what, GDPR Art. 5(2) accountability), the
consent history (the legal basis of staff reads), and the settlement runs with their documents
(the basis of approved heating settlements: bogføringsloven § 10 keeps accounting material
for 5 years; BEK 734 on individual heat metering). The flat's readings from the person's
tenancy — [since, until): moving in to moving out, or to the erasure while they still live
there — are deleted from the time-series store, except in the periods of the building's approved
settlement runs (their basis) and when another resident lived in the flat (their data too):
`cloud.accounts.erasure.erasure_plan`; the completed erasure lists both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from cloud.accounts import audit as audit_log
from cloud.accounts.audit import AuditAction
from cloud.accounts.erasure import KeptBecause, ReadingSpan, Tenancy, erasure_plan
from cloud.accounts.models import (
    ErasureRequest,
    FlatRow,
    LoginAttempt,
    Resident,
    RoleAssignment,
    SessionRow,
    User,
    utc,
)
from cloud.accounts.principal import Principal

if TYPE_CHECKING:
    from cloud.settlement.runs import RunStore
    from cloud.store.base import TimeSeriesStore

KEPT: Final = (
    "revisionssporet (hvem så eller ændrede hvad) – ansvarlighed, GDPR art. 5(2) / the audit "
    "trail (who saw or changed what) – accountability, GDPR Art. 5(2)",
    "samtykkehistorikken for lejligheden – grundlaget for personalets adgang / the flat's "
    "consent history – the legal basis of staff access",
    "varmeregnskabernes kørsler og opgørelser – grundlaget for godkendte varmeregnskaber, "
    "bogføringsloven § 10 (5 år) / heating settlement runs and statements – the basis of "
    "approved heating settlements, Danish Bookkeeping Act § 10 (5 years)",
    "lejlighedens målinger i perioder med et godkendt varmeregnskab – grundlaget for det, "
    "bogføringsloven § 10 (5 år) – og mens andre beboere boede der – også deres data (se "
    "readings_kept) / the flat's readings in periods of an approved heating settlement – its "
    "basis, Danish Bookkeeping Act § 10 (5 years) – and while other residents lived there – "
    "their data too (see readings_kept)",
)
DELETED: Final = (
    "navn, brugernavn og adgangskode (kontoen lukkes) / name, username and password (the "
    "account is closed)",
    "sessioner og loginforsøg / sessions and login attempts",
    "tilknytning til lejligheder og roller / links to flats and roles",
    "lejlighedens målinger fra din beboelsesperiode uden for de perioder, der gemmes (se "
    "readings_deleted) / the flat's readings from your tenancy outside the periods that are "
    "kept (see readings_deleted)",
)


@dataclass(frozen=True, slots=True)
class Erasure:
    id: int
    username: str
    requested_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    readings_deleted: tuple[ReadingSpan, ...] = ()
    """Completed: the flat readings deleted (the requester's tenancy, minus what is kept)."""
    readings_kept: tuple[ReadingSpan, ...] = ()
    """Completed: the requester's flat readings kept, each with the reason."""


def _span_json(span: ReadingSpan) -> dict[str, str | None]:
    return {
        "building": span.building,
        "flat": span.flat,
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "because": span.because,
    }


def _span(data: dict[str, Any]) -> ReadingSpan:
    because = data.get("because")
    return ReadingSpan(
        data["building"],
        data["flat"],
        datetime.fromisoformat(data["start"]),
        datetime.fromisoformat(data["end"]),
        KeptBecause(because) if because else None,
    )


def _erasure(row: ErasureRequest) -> Erasure:
    deleted: tuple[ReadingSpan, ...] = ()
    kept: tuple[ReadingSpan, ...] = ()
    if row.report.startswith("{"):
        report = json.loads(row.report)
        deleted = tuple(_span(d) for d in report.get("readings_deleted", ()))
        kept = tuple(_span(d) for d in report.get("readings_kept", ()))
    return Erasure(
        row.id,
        row.username,
        utc(row.requested_at),
        utc(row.completed_at) if row.completed_at else None,
        row.completed_by,
        deleted,
        kept,
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
                {
                    "flat": r.flat_id,
                    "since": utc(r.since),
                    "until": None if r.until is None else utc(r.until),
                }
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


def _approved_periods(runs: RunStore | None, building: str) -> list[tuple[datetime, datetime]]:
    if runs is None:
        return []
    return [
        (datetime.fromisoformat(r.period_start), datetime.fromisoformat(r.period_end))
        for r in runs.of_building(building)
        if r.state == "approved"
    ]


def _period(resident: Resident, now: datetime) -> tuple[datetime, datetime]:
    """A tenancy as [since, until), ending at `now` while it runs (empty if it has not begun)."""
    end = now if resident.until is None else min(utc(resident.until), now)
    return utc(resident.since), end


def _delete_readings(
    session: Session,
    now: datetime,
    user_id: int,
    store: TimeSeriesStore | None,
    runs: RunStore | None,
) -> tuple[list[ReadingSpan], list[ReadingSpan]]:
    """Delete the user's flat readings that may go (`erasure_plan`); (deleted, kept).

    Each tenancy is [since, until) — the move-out, or `now` for a resident still living there;
    another resident's tenancy of the flat (current or former) is theirs too and is kept."""
    tenancies = []
    co_residents: dict[str, list[tuple[datetime, datetime]]] = {}
    for resident in session.scalars(select(Resident).where(Resident.user_id == user_id)):
        flat = session.get(FlatRow, resident.flat_id)
        if flat is None:
            continue
        tenancies.append(Tenancy(flat.building_id, flat.id, *_period(resident, now)))
        co_residents[flat.id] = [
            _period(other, now)
            for other in session.scalars(
                select(Resident).where(Resident.flat_id == flat.id, Resident.user_id != user_id)
            )
        ]
    approved = {t.building: _approved_periods(runs, t.building) for t in tenancies}
    plan = erasure_plan(tenancies, co_residents, approved)
    if store is None:
        return [], list(plan.kept)
    for span in plan.delete:
        store.delete_flat(span.building, span.flat, span.start, span.end)
    return list(plan.delete), list(plan.kept)


def complete_erasure(
    engine: Engine,
    now: datetime,
    request_id: int,
    by: Principal,
    address: str | None,
    *,
    store: TimeSeriesStore | None = None,
    runs: RunStore | None = None,
) -> Erasure:
    """Erase the account of request `request_id` (see the module docstring for what is kept),
    and with a `store` the flat readings of the tenancy that may go (keeping the periods of
    approved settlement runs in `runs`). Raises `KeyError` for an unknown request,
    `ValueError` for one already completed; a store failure leaves the request open."""
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
        deleted: list[ReadingSpan] = []
        kept: list[ReadingSpan] = []
        if user is not None:
            deleted, kept = _delete_readings(session, now, user.id, store, runs)
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
        row.report = json.dumps(
            {
                "kept": list(KEPT),
                "readings_deleted": [_span_json(d) for d in deleted],
                "readings_kept": [_span_json(k) for k in kept],
            },
            ensure_ascii=False,
        )
        audit_log.append(
            session,
            now,
            by,
            AuditAction.ERASURE_COMPLETED,
            address=address,
            detail={
                "request": request_id,
                "user_id": row.user_id,
                "readings_deleted": len(deleted),
                "readings_kept": len(kept),
            },
        )
        session.flush()
        return _erasure(row)
