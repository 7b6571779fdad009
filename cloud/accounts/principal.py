"""Who is asking: a `Principal` (frozen), made from a valid session by `Accounts`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    RESIDENT = "resident"
    """Sees their own flat(s): readings, monthly figures, heat share; gives or withdraws consent."""
    TECHNICIAN = "technician"
    """Assigned buildings: alerts, key figures; detailed readings only with consent."""
    FINANCE = "finance"
    """Assigned organisations or buildings: heat shares and settlements."""
    ADMIN = "admin"
    """Users, roles, buildings and the audit trail (no residents' readings)."""


class ScopeKind(StrEnum):
    BUILDING = "building"
    ORGANISATION = "organisation"


STAFF = frozenset({Role.TECHNICIAN, Role.FINANCE})
SCOPES_OF: dict[Role, frozenset[ScopeKind]] = {
    Role.RESIDENT: frozenset(),  # residents are linked to flats (`Accounts.add_resident`)
    Role.TECHNICIAN: frozenset({ScopeKind.BUILDING}),
    Role.FINANCE: frozenset({ScopeKind.BUILDING, ScopeKind.ORGANISATION}),
    Role.ADMIN: frozenset(),  # global
}


@dataclass(frozen=True, slots=True, order=True)
class Residence:
    """A resident's tenancy of a flat: [since, until), aware UTC; ``until`` None: still there."""

    building: str
    flat: str
    since: datetime
    until: datetime | None = None

    def current(self, now: datetime) -> bool:
        """Still living there at `now` (a move-out at `now` has happened)."""
        return self.until is None or now < self.until


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    flats: frozenset[tuple[str, str]]
    """(building_id, flat_id) of the flats a resident lives in now (not moved out); empty for
    staff."""
    buildings: frozenset[str]
    """Buildings in a staff member's scope: assigned directly or through an organisation."""
    organisations: frozenset[str]
    """Organisations assigned (finance)."""
    residences: tuple[Residence, ...] = ()
    """A resident's tenancies, current and former (moved out), sorted: the periods their
    export and erasure cover (`cloud.accounts.scope.own_periods`)."""

    @property
    def flat_ids(self) -> frozenset[str]:
        return frozenset(flat for _building, flat in self.flats)

    def lives_in(self, flat_id: str) -> bool:
        return self.role is Role.RESIDENT and flat_id in self.flat_ids
