"""Consent with history: each grant or withdrawal is a row (append-only). The flat's consent is
the latest grant or withdrawal by someone who lives there now: when a resident moves out (or
is erased), their choice stops counting — the readings from then on are the next residents',
and only they can consent to staff seeing them. The history keeps every row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from cloud.accounts import audit as audit_log
from cloud.accounts.audit import AuditAction
from cloud.accounts.models import ConsentRow, FlatRow, Resident, utc
from cloud.accounts.principal import Principal, Role

MAX_HISTORY = 1000


@dataclass(frozen=True, slots=True)
class Consent:
    flat_id: str
    staff_detail: bool
    """Staff (technicians, finance of the building) may see detailed readings."""
    at: datetime | None
    """When this state began (None: never given)."""
    by: str | None
    """Username of the resident who gave or withdrew it."""


def _consent(row: ConsentRow) -> Consent:
    return Consent(row.flat_id, row.staff_detail, utc(row.at), row.username)


def current(engine: Engine, flat_id: str, now: datetime) -> Consent:
    """The latest grant or withdrawal at `flat_id` by a resident living there at `now`."""
    living = select(Resident.user_id).where(
        Resident.flat_id == flat_id,
        or_(Resident.until.is_(None), Resident.until > now),
    )
    with Session(engine) as session:
        row = session.scalar(
            select(ConsentRow)
            .where(ConsentRow.flat_id == flat_id, ConsentRow.user_id.in_(living))
            .order_by(ConsentRow.id.desc())
            .limit(1)
        )
    return Consent(flat_id, False, None, None) if row is None else _consent(row)


def history(engine: Engine, flat_id: str) -> list[Consent]:
    """Grants and withdrawals, oldest first (the newest `MAX_HISTORY`)."""
    with Session(engine) as session:
        rows = session.scalars(
            select(ConsentRow)
            .where(ConsentRow.flat_id == flat_id)
            .order_by(ConsentRow.id.desc())
            .limit(MAX_HISTORY)
        ).all()
    return [_consent(r) for r in reversed(rows)]


def record(
    engine: Engine,
    now: datetime,
    who: Principal,
    flat_id: str,
    staff_detail: bool,
    address: str | None,
) -> Consent:
    if not (who.role is Role.RESIDENT and who.lives_in(flat_id)):
        raise PermissionError(
            f"kun beboerne i {flat_id} kan ændre samtykket / only the residents of {flat_id} "
            "can change the consent"
        )
    with Session(engine) as session, session.begin():
        tenancy = session.get(Resident, (who.user_id, flat_id))
        if tenancy is None or (tenancy.until is not None and utc(tenancy.until) <= now):
            raise PermissionError(
                f"du bor ikke længere i {flat_id}, så samtykket er de nuværende beboeres / you "
                f"no longer live in {flat_id}, so the consent is the current residents'"
            )
        flat = session.get(FlatRow, flat_id)
        building = flat.building_id if flat else None
        row = ConsentRow(
            flat_id=flat_id,
            staff_detail=staff_detail,
            user_id=who.user_id,
            username=who.username,
            at=now,
        )
        session.add(row)
        audit_log.append(
            session,
            now,
            who,
            AuditAction.CONSENT_GRANTED if staff_detail else AuditAction.CONSENT_WITHDRAWN,
            flat_id=flat_id,
            building_id=building,
            address=address,
        )
        session.flush()
        return _consent(row)
