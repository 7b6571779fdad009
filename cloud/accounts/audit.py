"""The audit trail: append and query (no update, no delete — the database refuses them too)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.models import AuditRow, utc
from cloud.accounts.principal import Principal

MAX_AUDIT_PAGE = 5000


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOCKED_OUT = "login.locked_out"
    LOGOUT = "logout"
    DETAIL_READ = "flat.detail_read"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    EXPORT = "me.export"
    ERASURE_REQUESTED = "erasure.requested"
    ERASURE_COMPLETED = "erasure.completed"
    USER_CREATED = "user.created"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    PASSWORD_CHANGED = "user.password_changed"
    ROLE_ASSIGNED = "role.assigned"
    ROLE_REMOVED = "role.removed"
    RESIDENT_ADDED = "resident.added"
    RESIDENT_REMOVED = "resident.removed"
    RESIDENT_MOVED_OUT = "resident.moved_out"
    SETTLEMENT_CREATED = "settlement.created"
    SETTLEMENT_CHECKED = "settlement.checked"
    SETTLEMENT_APPROVED = "settlement.approved"
    SETTLEMENT_DELETED = "settlement.deleted"
    SETTLEMENT_REFUSED = "settlement.refused"
    SETTLEMENT_EXPORTED = "settlement.exported"
    WINDOW_SETPOINTS = "window.setpoints"
    WINDOW_COMMAND = "window.command"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    flat_id: str | None
    building_id: str | None
    run_id: int | None
    address: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditQuery:
    username: str | None = None
    flat_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 500


def append(
    session: Session,
    at: datetime,
    who: Principal | None,
    action: AuditAction,
    *,
    username: str | None = None,
    flat_id: str | None = None,
    building_id: str | None = None,
    run_id: int | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry in the caller's transaction (`who` None: not logged in, e.g. a failed
    login — then `username` names the account tried)."""
    session.add(
        AuditRow(
            at=at,
            user_id=who.user_id if who else None,
            username=who.username if who else username,
            action=action.value,
            flat_id=flat_id,
            building_id=building_id,
            run_id=run_id,
            address=(address or None) and address[:64],
            detail=json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str),
        )
    )


def entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=utc(row.at),
        user_id=row.user_id,
        username=row.username,
        action=row.action,
        flat_id=row.flat_id,
        building_id=row.building_id,
        run_id=row.run_id,
        address=row.address,
        detail=json.loads(row.detail) if row.detail else {},
    )


def query(session: Session, q: AuditQuery) -> list[AuditEntry]:
    """Entries matching `q`, newest first, at most ``q.limit`` (capped at `MAX_AUDIT_PAGE`)."""
    stmt = select(AuditRow)
    if q.username is not None:
        stmt = stmt.where(AuditRow.username == q.username.strip().casefold())
    if q.flat_id is not None:
        stmt = stmt.where(AuditRow.flat_id == q.flat_id)
    if q.action is not None:
        stmt = stmt.where(AuditRow.action == q.action)
    if q.since is not None:
        stmt = stmt.where(AuditRow.at >= utc(q.since))
    if q.until is not None:
        stmt = stmt.where(AuditRow.at < utc(q.until))
    stmt = stmt.order_by(AuditRow.id.desc()).limit(max(1, min(q.limit, MAX_AUDIT_PAGE)))
    return [entry(row) for row in session.scalars(stmt)]
