"""`Accounts`: users, passwords, login sessions, scopes, consent and the audit trail, over one
SQLAlchemy engine. Thread-safe (a session per call), so one object serves the whole app.

Sessions are opaque random tokens (``secrets.token_urlsafe(32)``, 256 bits); only their SHA-256
is stored, so a copy of the database does not give working tokens. A session ends at its expiry,
at logout, and for all a user's sessions when their password changes or they are disabled.

Login is rate limited: `LoginPolicy.user_failures` failed attempts for one username within
`LoginPolicy.window` lock that username until the oldest of them leaves the window; likewise
`LoginPolicy.address_failures` from one address. Attempts while locked are refused without
checking the password and do not extend the lock. Attempts older than a day are pruned.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from sqlalchemy import Connection, Engine, bindparam, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.accounts import audit as audit_log
from cloud.accounts import consent, gdpr
from cloud.accounts.audit import AuditAction, AuditEntry, AuditQuery
from cloud.accounts.consent import Consent
from cloud.accounts.gdpr import Erasure
from cloud.accounts.models import (
    BuildingRow,
    FlatRow,
    LoginAttempt,
    Resident,
    RoleAssignment,
    SessionRow,
    User,
    utc,
)
from cloud.accounts.passwords import Passwords
from cloud.accounts.principal import Principal, Residence, Role, ScopeKind
from cloud.accounts.users import UserAdmin, normalise_username

if TYPE_CHECKING:
    from cloud.settlement.runs import RunStore
    from cloud.store.base import TimeSeriesStore

TOKEN: Final = re.compile(r"^[A-Za-z0-9_-]{20,128}$")
ATTEMPTS_KEPT: Final = timedelta(days=1)


class LoginFailed(Exception):
    """Wrong username or password (which of them is not told)."""

    def __init__(self, message: str, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


class LockedOut(LoginFailed):
    """Too many failed attempts: no login for this username or address until `locked_until`."""

    locked_until: datetime


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    session_ttl: timedelta = timedelta(hours=12)
    window: timedelta = timedelta(minutes=15)
    user_failures: int = 5
    address_failures: int = 20


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _local(moment: datetime) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Europe/Copenhagen")).strftime("%Y-%m-%d %H:%M")


_SESSION_QUERY: Final = (
    select(
        User.id,
        User.username,
        User.display_name,
        User.role,
        User.disabled_at,
        User.erased_at,
        SessionRow.revoked_at,
        SessionRow.expires_at,
        FlatRow.building_id,
        FlatRow.id.label("flat_id"),
        Resident.since,
        Resident.until,
    )
    .join_from(SessionRow, User, User.id == SessionRow.user_id)
    .outerjoin(Resident, Resident.user_id == User.id)
    .outerjoin(FlatRow, FlatRow.id == Resident.flat_id)
    .where(SessionRow.token_sha256 == bindparam("token_sha256"))
)
"""A session's user and, for a resident, the flats (one row each): made once, so SQLAlchemy
finds its compiled form without rebuilding the statement on every request."""


class Accounts(UserAdmin):
    """The one accounts service (users: `UserAdmin`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        policy: LoginPolicy | None = None,
        passwords: Passwords | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`engine` on a database at the newest schema (`cloud.accounts.db.upgrade`)."""
        self.engine = engine
        self.policy = policy or LoginPolicy()
        self.passwords = passwords or Passwords()
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def close(self) -> None:
        """Release connections; safe to call twice."""
        self.engine.dispose()

    # -- login and sessions -----------------------------------------------------------------

    def _locked_until(
        self,
        session: Session,
        column: InstrumentedAttribute[str],
        value: str,
        limit: int,
        now: datetime,
        after: datetime | None,
    ) -> datetime | None:
        since = now - self.policy.window
        if after is not None and after > since:
            since = after
        stmt = (
            select(LoginAttempt.at)
            .where(column == value, LoginAttempt.success.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        )
        recent = [utc(at) for at in session.scalars(stmt)]
        if len(recent) < limit:
            return None
        return recent[-1] + self.policy.window

    def _last_success(self, session: Session, username: str) -> datetime | None:
        at = session.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.success.is_(True)
            )
        )
        return None if at is None else utc(at)

    def _lock(
        self, session: Session, username: str, address: str, now: datetime
    ) -> datetime | None:
        user_lock = self._locked_until(
            session,
            LoginAttempt.username,
            username,
            self.policy.user_failures,
            now,
            self._last_success(session, username),
        )
        address_lock = self._locked_until(
            session, LoginAttempt.address, address, self.policy.address_failures, now, None
        )
        locks = [t for t in (user_lock, address_lock) if t is not None]
        return max(locks) if locks else None

    @staticmethod
    def _locked_message(until: datetime) -> str:
        return (
            f"For mange forkerte forsøg: login er spærret til {_local(until)} (dansk tid); "
            "prøv igen derefter eller kontakt administrator / too many failed attempts: login "
            f"is locked until {until:%Y-%m-%d %H:%M} UTC; try again then or contact an admin"
        )

    def login(self, username: str, password: str, address: str) -> tuple[str, Principal]:
        """Check the password and open a session: (token, principal). Raises `LockedOut`
        (with `locked_until`) or `LoginFailed`."""
        name = normalise_username(username)[:64]
        address = (address or "unknown")[:64]
        now = self.now()
        with Session(self.engine) as session:
            until = self._lock(session, name, address, now)
            user = session.scalar(
                select(User).where(User.username == name, User.erased_at.is_(None))
            )
            stored = user.password_hash if user else None
        if until is not None:
            raise LockedOut(self._locked_message(until), until)
        ok = self.passwords.verify(stored, password)  # None: a dummy check, as slow
        opened: tuple[str, Principal] | None = None
        with Session(self.engine) as session, session.begin():
            session.add(LoginAttempt(at=now, username=name, address=address, success=ok))
            if not ok:
                audit_log.append(
                    session, now, None, AuditAction.LOGIN_FAILED, username=name, address=address
                )
                session.flush()
                until = self._lock(session, name, address, now)
                if until is not None:
                    audit_log.append(
                        session,
                        now,
                        None,
                        AuditAction.LOCKED_OUT,
                        username=name,
                        address=address,
                        detail={"until": until.isoformat()},
                    )
            else:
                opened = self._open_session(session, name, password, address, now)
        if not ok:
            if until is not None:
                raise LockedOut(self._locked_message(until), until)
            raise LoginFailed("Forkert brugernavn eller adgangskode / wrong username or password")
        if opened is None:
            raise LoginFailed(
                "Kontoen er spærret; kontakt administrator / the account is disabled; "
                "contact an admin"
            )
        return opened

    def _open_session(
        self, session: Session, name: str, password: str, address: str, now: datetime
    ) -> tuple[str, Principal] | None:
        """A new session for a user whose password was right; None when disabled."""
        user = session.scalar(select(User).where(User.username == name))
        if user is None or user.disabled_at is not None or user.password_hash is None:
            return None
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
        token = secrets.token_urlsafe(32)
        session.add(
            SessionRow(
                token_sha256=token_hash(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + self.policy.session_ttl,
                address=address,
            )
        )
        session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - ATTEMPTS_KEPT))
        session.execute(delete(SessionRow).where(SessionRow.expires_at < now - ATTEMPTS_KEPT))
        principal = self._principal(session, user.id, user.username, user.display_name, user.role)
        audit_log.append(session, now, principal, AuditAction.LOGIN, address=address)
        return token, principal

    def _principal(
        self,
        session: Session | Connection,
        user_id: int,
        username: str,
        display_name: str,
        role_name: str,
        residences: Sequence[Residence] | None = None,
    ) -> Principal:
        """The principal of the user: a resident's tenancies (`residences` when the caller read
        them already; only current ones give flats), or staff's buildings and organisations —
        each role reads only what it keeps."""
        role = Role(role_name)
        flats: frozenset[tuple[str, str]] = frozenset()
        buildings: set[str] = set()
        organisations: frozenset[str] = frozenset()
        tenancies: tuple[Residence, ...] = ()
        if role is Role.RESIDENT:
            if residences is None:
                residences = [
                    Residence(b, f, utc(since), None if until is None else utc(until))
                    for b, f, since, until in session.execute(
                        select(FlatRow.building_id, FlatRow.id, Resident.since, Resident.until)
                        .join(Resident, Resident.flat_id == FlatRow.id)
                        .where(Resident.user_id == user_id)
                    )
                ]
            tenancies = tuple(sorted(residences))
            now = self.now()
            flats = frozenset((r.building, r.flat) for r in tenancies if r.current(now))
        else:
            scopes = session.execute(
                select(RoleAssignment.scope_kind, RoleAssignment.scope_id).where(
                    RoleAssignment.user_id == user_id
                )
            ).all()
            buildings = {s for k, s in scopes if k == ScopeKind.BUILDING.value}
            organisations = frozenset(s for k, s in scopes if k == ScopeKind.ORGANISATION.value)
            if organisations:
                buildings |= set(
                    session.scalars(
                        select(BuildingRow.id).where(BuildingRow.organisation_id.in_(organisations))
                    )
                )
        return Principal(
            user_id=user_id,
            username=username,
            display_name=display_name,
            role=role,
            flats=flats,
            buildings=frozenset(buildings),
            organisations=organisations if role is Role.FINANCE else frozenset(),
            residences=tenancies,
        )

    def principal_for_token(self, token: str | None) -> Principal | None:
        """The person a session token belongs to, or None (unknown, expired, revoked, the
        user disabled). For the API's bearer token and the pages' cookie alike: on every
        request, so it reads columns, not ORM objects, and a resident's flats in the same query
        (one row per flat)."""
        if not token or not TOKEN.match(token):
            return None
        now = self.now()
        with self.engine.connect() as conn:
            rows = conn.execute(_SESSION_QUERY, {"token_sha256": token_hash(token)}).all()
            if not rows:
                return None
            row = rows[0]
            if (
                row.revoked_at is not None
                or utc(row.expires_at) <= now
                or row.disabled_at is not None
                or row.erased_at is not None
            ):
                return None
            residences = [
                Residence(r.building_id, r.flat_id, utc(r.since), utc(r.until) if r.until else None)
                for r in rows
                if r.flat_id is not None
            ]
            return self._principal(
                conn, row.id, row.username, row.display_name, row.role, residences=residences
            )

    def logout(self, token: str | None, *, address: str | None = None) -> bool:
        """End the session of `token`; False if it was not a live session."""
        if not token or not TOKEN.match(token):
            return False
        now = self.now()
        with Session(self.engine) as session, session.begin():
            row = session.scalar(
                select(SessionRow).where(
                    SessionRow.token_sha256 == token_hash(token), SessionRow.revoked_at.is_(None)
                )
            )
            if row is None:
                return False
            row.revoked_at = now
            user = session.get(User, row.user_id)
            audit_log.append(
                session,
                now,
                None,
                AuditAction.LOGOUT,
                username=user.username if user else None,
                address=address,
            )
            return True

    # -- audit ------------------------------------------------------------------------------

    def audit(
        self,
        who: Principal | None,
        action: AuditAction,
        *,
        flat_id: str | None = None,
        building_id: str | None = None,
        run_id: int | None = None,
        address: str | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        """Append one entry to the audit trail (its own transaction)."""
        with Session(self.engine) as session, session.begin():
            audit_log.append(
                session,
                self.now(),
                who,
                action,
                flat_id=flat_id,
                building_id=building_id,
                run_id=run_id,
                address=address,
                detail=detail,
            )

    def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        with Session(self.engine) as session:
            return audit_log.query(session, query)

    # -- consent ----------------------------------------------------------------------------

    def consent(self, flat_id: str) -> Consent:
        """The flat's current consent: the latest grant or withdrawal by someone who lives
        there now (a moved-out resident's choice no longer counts; none: not consented)."""
        return consent.current(self.engine, flat_id, self.now())

    def consented(self, flat_id: str) -> bool:
        return consent.current(self.engine, flat_id, self.now()).staff_detail

    def consent_history(self, flat_id: str) -> list[Consent]:
        return consent.history(self.engine, flat_id)

    def set_consent(
        self, who: Principal, flat_id: str, staff_detail: bool, *, address: str | None = None
    ) -> Consent:
        """Grant or withdraw (only the flat's resident; check `scope.check_flat` with
        `FlatView.CONSENT_WRITE` first). Takes effect at once; appended to the history and the
        audit trail."""
        return consent.record(self.engine, self.now(), who, flat_id, staff_detail, address)

    # -- GDPR -------------------------------------------------------------------------------

    def personal_data(self, who: Principal) -> dict[str, object]:
        """The person's own account rows (for the export; see `gdpr.personal_data`)."""
        return gdpr.personal_data(self.engine, who.user_id)

    def resident_since(self, who: Principal, flat_id: str) -> datetime | None:
        """When `who` moved into `flat_id` (also after moving out; None: never lived there)."""
        with Session(self.engine) as session:
            row = session.get(Resident, (who.user_id, flat_id))
            return None if row is None else utc(row.since)

    def request_erasure(self, who: Principal, *, address: str | None = None) -> Erasure:
        return gdpr.request_erasure(self.engine, self.now(), who, address)

    def erasure_requests(self, *, open_only: bool = False) -> list[Erasure]:
        return gdpr.erasure_requests(self.engine, open_only=open_only)

    def complete_erasure(
        self,
        request_id: int,
        by: Principal,
        *,
        address: str | None = None,
        store: TimeSeriesStore | None = None,
        runs: RunStore | None = None,
    ) -> Erasure:
        """Erase the requester's account data and, with a `store`, their tenancy's flat
        readings, keeping what the law requires (`gdpr`, `cloud.accounts.erasure`)."""
        return gdpr.complete_erasure(
            self.engine, self.now(), request_id, by, address, store=store, runs=runs
        )
