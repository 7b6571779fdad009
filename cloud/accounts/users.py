"""User administration (part of `Accounts`): create, password, disable, scopes, residents,
and the buildings and flats known to the accounts database. Every change is audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.accounts import audit as audit_log
from cloud.accounts.audit import AuditAction
from cloud.accounts.errors import AccountError, UnknownUser
from cloud.accounts.models import (
    BuildingRow,
    FlatRow,
    Organisation,
    Resident,
    RoleAssignment,
    SessionRow,
    User,
    utc,
)
from cloud.accounts.passwords import Passwords, check_new_password
from cloud.accounts.principal import SCOPES_OF, Principal, Role, ScopeKind

USERNAME: Final = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
LOCAL_TZ: Final = ZoneInfo("Europe/Copenhagen")


DAY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def local_day(moment: datetime) -> str:
    """The Danish calendar day of an aware instant, as ``YYYY-MM-DD``."""
    return moment.astimezone(LOCAL_TZ).date().isoformat()


def move_out_instant(text: str) -> datetime:
    """A move-out day as typed, ``YYYY-MM-DD`` (a Danish calendar day), → the instant it
    begins: local midnight in Europe/Copenhagen, as aware UTC (the tenancy's exclusive end).
    Raises `AccountError` naming the problem for anything else."""
    day: date | None = None
    if DAY.match(text.strip()):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            day = None
    if day is None:
        raise AccountError(
            f"datoen {text!r} er ikke en dato på formen ÅÅÅÅ-MM-DD (fx 2026-03-01) / the date "
            f"{text!r} is not a date in the form YYYY-MM-DD (e.g. 2026-03-01)"
        )
    if not 2000 <= day.year <= 2099:
        raise AccountError(
            f"datoen {text!r} skal ligge i årene 2000-2099 / the date {text!r} must be in the "
            "years 2000-2099"
        )
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime
    flats: tuple[str, ...]
    """The flats a resident lives in now."""
    scopes: tuple[tuple[ScopeKind, str], ...]
    moved_out: tuple[tuple[str, datetime], ...] = ()
    """(flat, move-out instant) of the flats a resident has moved out of (or will, when the
    instant is still ahead)."""


def normalise_username(username: str) -> str:
    return username.strip().casefold()


def _rowcount(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def revoke_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every live session of the user; returns how many."""
    result = session.execute(
        update(SessionRow)
        .where(
            SessionRow.user_id == user_id,
            SessionRow.revoked_at.is_(None),
            SessionRow.expires_at > now,
        )
        .values(revoked_at=now)
    )
    return _rowcount(result)


class UserAdmin:
    """Mixed into `Accounts`, which provides the engine, the hasher and the clock."""

    engine: Engine
    passwords: Passwords

    def now(self) -> datetime:
        raise NotImplementedError

    # -- users ------------------------------------------------------------------------------

    def _user(self, session: Session, username: str) -> User:
        user = session.scalar(select(User).where(User.username == normalise_username(username)))
        if user is None or user.erased_at is not None:
            raise UnknownUser(
                f"brugeren {username!r} findes ikke / user {username!r} does not exist"
            )
        return user

    def create_user(
        self,
        username: str,
        role: Role,
        password: str,
        *,
        display_name: str | None = None,
        by: Principal | None = None,
        address: str | None = None,
    ) -> int:
        """A new user (no scope yet: `assign`, `add_resident`); returns its id."""
        name = normalise_username(username)
        if not USERNAME.match(name):
            raise AccountError(
                f"brugernavnet {username!r} er ugyldigt: 2-64 tegn a-z, 0-9, . _ @ - / the "
                f"username {username!r} is invalid: 2-64 characters a-z, 0-9, . _ @ -"
            )
        check_new_password(password, name)
        now = self.now()
        user = User(
            username=name,
            display_name=(display_name or username).strip()[:200] or name,
            role=Role(role).value,
            password_hash=self.passwords.hash(password),
            created_at=now,
            password_changed_at=now,
        )
        try:
            with Session(self.engine) as session, session.begin():
                session.add(user)
                session.flush()
                audit_log.append(
                    session,
                    now,
                    by,
                    AuditAction.USER_CREATED,
                    address=address,
                    detail={"user": name, "role": user.role},
                )
                return user.id
        except IntegrityError as exc:
            raise AccountError(
                f"brugeren {name!r} findes allerede / user {name!r} already exists"
            ) from exc

    def set_password(
        self,
        username: str,
        password: str,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> int:
        """Set a new password and end all the user's sessions; returns how many ended."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            check_new_password(password, user.username)
            now = self.now()
            user.password_hash = self.passwords.hash(password)
            user.password_changed_at = now
            ended = revoke_sessions(session, user.id, now)
            audit_log.append(
                session,
                now,
                by,
                AuditAction.PASSWORD_CHANGED,
                address=address,
                detail={"user": user.username, "sessions_ended": ended},
            )
            return ended

    def set_disabled(
        self,
        username: str,
        disabled: bool = True,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> None:
        """Disable (ending all sessions) or enable a user."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            now = self.now()
            user.disabled_at = now if disabled else None
            ended = revoke_sessions(session, user.id, now) if disabled else 0
            audit_log.append(
                session,
                now,
                by,
                AuditAction.USER_DISABLED if disabled else AuditAction.USER_ENABLED,
                address=address,
                detail={"user": user.username, "sessions_ended": ended},
            )

    def _scope_exists(self, session: Session, kind: ScopeKind, scope_id: str) -> bool:
        table = BuildingRow if kind is ScopeKind.BUILDING else Organisation
        return session.get(table, scope_id) is not None

    def assign(
        self,
        username: str,
        kind: ScopeKind,
        scope_id: str,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> None:
        """Give a staff user a building or organisation; refused when the user's role does not
        take that kind of scope (technician: buildings; finance: buildings, organisations)."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            role = Role(user.role)
            if kind not in SCOPES_OF[role]:
                allowed = ", ".join(sorted(SCOPES_OF[role])) or "ingen / none"
                raise AccountError(
                    f"rollen {role} kan ikke tildeles {kind} (kan: {allowed}) / the role {role} "
                    f"cannot be given a {kind} (takes: {allowed})"
                )
            if not self._scope_exists(session, kind, scope_id):
                raise AccountError(
                    f"{kind} {scope_id!r} findes ikke / {kind} {scope_id!r} does not exist"
                )
            exists = session.scalar(
                select(RoleAssignment).where(
                    RoleAssignment.user_id == user.id,
                    RoleAssignment.scope_kind == kind.value,
                    RoleAssignment.scope_id == scope_id,
                )
            )
            if exists is not None:
                return
            now = self.now()
            session.add(
                RoleAssignment(
                    user_id=user.id, scope_kind=kind.value, scope_id=scope_id, created_at=now
                )
            )
            audit_log.append(
                session,
                now,
                by,
                AuditAction.ROLE_ASSIGNED,
                building_id=scope_id if kind is ScopeKind.BUILDING else None,
                address=address,
                detail={"user": user.username, "role": role.value, kind.value: scope_id},
            )

    def unassign(
        self,
        username: str,
        kind: ScopeKind,
        scope_id: str,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> bool:
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            result = session.execute(
                delete(RoleAssignment).where(
                    RoleAssignment.user_id == user.id,
                    RoleAssignment.scope_kind == kind.value,
                    RoleAssignment.scope_id == scope_id,
                )
            )
            gone = _rowcount(result)
            if gone:
                audit_log.append(
                    session,
                    self.now(),
                    by,
                    AuditAction.ROLE_REMOVED,
                    building_id=scope_id if kind is ScopeKind.BUILDING else None,
                    address=address,
                    detail={"user": user.username, kind.value: scope_id},
                )
            return bool(gone)

    def add_resident(
        self,
        username: str,
        flat_id: str,
        *,
        since: datetime | None = None,
        by: Principal | None = None,
        address: str | None = None,
    ) -> None:
        """Link a resident user to the flat they live in (`since`: moving-in day, default now;
        their export holds the flat's readings from then on)."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            if user.role != Role.RESIDENT.value:
                raise AccountError(
                    f"{user.username} er {user.role}, ikke beboer / {user.username} is "
                    f"{user.role}, not a resident"
                )
            flat = session.get(FlatRow, flat_id)
            if flat is None:
                raise AccountError(
                    f"lejlighed {flat_id!r} findes ikke (kør `indeklima db seed`) / flat "
                    f"{flat_id!r} does not exist (run `indeklima db seed`)"
                )
            existing = session.get(Resident, (user.id, flat_id))
            if existing is not None and existing.until is not None:
                raise AccountError(
                    f"{user.username} flyttede ud af {flat_id} den "
                    f"{local_day(utc(existing.until))}; den gamle beboelsesperiode bevares til "
                    "eksport og sletning, så en ny indflytning kræver en ny konto / "
                    f"{user.username} moved out of {flat_id} on "
                    f"{local_day(utc(existing.until))}; the old tenancy is kept for their export "
                    "and erasure, so moving in again needs a new account"
                )
            if existing is not None:
                return
            now = self.now()
            session.add(Resident(user_id=user.id, flat_id=flat_id, since=since or now))
            audit_log.append(
                session,
                now,
                by,
                AuditAction.RESIDENT_ADDED,
                flat_id=flat_id,
                building_id=flat.building_id,
                address=address,
                detail={"user": user.username},
            )

    def move_out(
        self,
        username: str,
        flat_id: str,
        until: datetime,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> datetime | None:
        """End the resident's tenancy of `flat_id` at `until` (aware; the first instant they no
        longer live there — for a move-out day, Danish local midnight). The link stays: it is
        the period [since, until) their export and erasure cover. Refused for a time at or
        before moving in, for a user not linked to the flat and for a naive time. Setting it
        again corrects the date (both are audited). Returns the previous move-out, if any."""
        if until.tzinfo is None:
            raise AccountError(
                "fraflytningstidspunktet mangler tidszone / the move-out time has no time zone"
            )
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            row = session.get(Resident, (user.id, flat_id))
            if row is None:
                raise AccountError(
                    f"{user.username} bor ikke i lejlighed {flat_id!r} / {user.username} is "
                    f"not a resident of flat {flat_id!r}"
                )
            since = utc(row.since)
            moment = utc(until)
            if moment <= since:
                raise AccountError(
                    f"fraflytningen ({local_day(moment)}) skal ligge efter indflytningen "
                    f"({local_day(since)}, {since.astimezone(LOCAL_TZ):%H:%M} dansk tid) / the "
                    f"move-out ({local_day(moment)}) must be after moving in "
                    f"({local_day(since)}, {since.astimezone(LOCAL_TZ):%H:%M} Danish time)"
                )
            previous = None if row.until is None else utc(row.until)
            if previous == moment:
                return previous
            row.until = moment
            flat = session.get(FlatRow, flat_id)
            audit_log.append(
                session,
                self.now(),
                by,
                AuditAction.RESIDENT_MOVED_OUT,
                flat_id=flat_id,
                building_id=flat.building_id if flat else None,
                address=address,
                detail={
                    "user": user.username,
                    "since": since.isoformat(),
                    "until": moment.isoformat(),
                    **({"previous_until": previous.isoformat()} if previous else {}),
                },
            )
            return previous

    def remove_resident(
        self,
        username: str,
        flat_id: str,
        *,
        by: Principal | None = None,
        address: str | None = None,
    ) -> bool:
        """Delete a link made by mistake (no tenancy is left: their export and erasure no
        longer cover the flat). A move-out is `move_out`, which keeps the period."""
        with Session(self.engine) as session, session.begin():
            user = self._user(session, username)
            row = session.get(Resident, (user.id, flat_id))
            if row is None:
                return False
            session.delete(row)
            audit_log.append(
                session,
                self.now(),
                by,
                AuditAction.RESIDENT_REMOVED,
                flat_id=flat_id,
                address=address,
                detail={"user": user.username},
            )
            return True

    def _info(self, session: Session, user: User) -> UserInfo:
        links = session.execute(
            select(Resident.flat_id, Resident.until)
            .where(Resident.user_id == user.id)
            .order_by(Resident.flat_id)
        ).all()
        now = self.now()
        flats = [f for f, until in links if until is None or now < utc(until)]
        moved_out = [(f, utc(until)) for f, until in links if until is not None]
        scopes = session.execute(
            select(RoleAssignment.scope_kind, RoleAssignment.scope_id)
            .where(RoleAssignment.user_id == user.id)
            .order_by(RoleAssignment.scope_kind, RoleAssignment.scope_id)
        ).all()
        return UserInfo(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            disabled=user.disabled_at is not None,
            created_at=utc(user.created_at),
            flats=tuple(flats),
            scopes=tuple((ScopeKind(k), s) for k, s in scopes),
            moved_out=tuple(moved_out),
        )

    def user(self, username: str) -> UserInfo:
        with Session(self.engine) as session:
            return self._info(session, self._user(session, username))

    def users(self, role: Role | None = None) -> list[UserInfo]:
        with Session(self.engine) as session:
            stmt = select(User).where(User.erased_at.is_(None)).order_by(User.username)
            if role is not None:
                stmt = stmt.where(User.role == role.value)
            return [self._info(session, u) for u in session.scalars(stmt)]

    # -- buildings and flats ------------------------------------------------------------------

    def flats(self) -> list[tuple[str, str]]:
        """Every (building_id, flat_id), sorted."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(FlatRow.building_id, FlatRow.id).order_by(FlatRow.building_id, FlatRow.id)
            ).all()
            return [(b, f) for b, f in rows]

    def building_of(self, flat_id: str) -> str | None:
        with Session(self.engine) as session:
            flat = session.get(FlatRow, flat_id)
            return None if flat is None else flat.building_id

    def residents_of(self, flat_id: str) -> list[str]:
        """The usernames of the flat's residents now (not those who moved out)."""
        now = self.now()
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(User.username)
                    .join(Resident, Resident.user_id == User.id)
                    .where(
                        Resident.flat_id == flat_id,
                        User.erased_at.is_(None),
                        or_(Resident.until.is_(None), Resident.until > now),
                    )
                    .order_by(User.username)
                )
            )
