"""The one place that decides who may see and do what. Endpoints and pages call these and never
decide themselves.

Every check raises `Denied` (with the HTTP status to answer and a Danish / English reason) or
returns quietly; the ``visible_*`` functions give the filter for lists. The rules:

===========================  =========  ==========================  ===========  =====
what                         resident   technician                  finance      admin
===========================  =========  ==========================  ===========  =====
flat's summary (monthly,     own flat   flats of own buildings      same         no
key figures, alerts'
kind/severity, sensors)
flat's detailed readings     own flat   own buildings AND consent   same         no
flat's consent: read         own flat   own buildings               same         no
flat's consent: change       own flat   no                          no           no
flat's heat-share estimate   own flat   no                          no           no
building: structure          no         own buildings               own          all
building: climate per flat   no         own buildings (consented    no           no
                                        flats only, list filtered)
building: heat shares        no         no                          own          no
building: settlements        no         no                          own          no
alerts list                  own flats  own buildings               no           no
users, roles, audit          no         no                          no           yes
===========================  =========  ==========================  ===========  =====

A flat that is not the resident's own answers 404, as an unknown flat does (residents must not
learn which flats exist); staff out of scope get 403. Reads of detailed readings by anyone but
the flat's resident are audited by the caller (`needs_detail_audit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from cloud.accounts.principal import STAFF, Principal, Role


class Denied(Exception):
    """Access refused: answer `status` with `reason` (Danish / English)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FlatView(StrEnum):
    SUMMARY = "summary"
    DETAIL = "detail"
    CONSENT_READ = "consent_read"
    CONSENT_WRITE = "consent_write"
    HEAT_SHARE = "heat_share"


class BuildingView(StrEnum):
    STRUCTURE = "structure"
    CLIMATE = "climate"
    HEAT_SHARES = "heat_shares"
    SETTLEMENTS = "settlements"
    HEALTH = "health"
    """Gateways' and sensors' health (technicians of the building)."""


FORBIDDEN: Final = 403
NOT_FOUND: Final = 404

_BUILDING_ROLES: Final[dict[BuildingView, frozenset[Role]]] = {
    BuildingView.STRUCTURE: frozenset({Role.TECHNICIAN, Role.FINANCE, Role.ADMIN}),
    BuildingView.CLIMATE: frozenset({Role.TECHNICIAN}),
    BuildingView.HEAT_SHARES: frozenset({Role.FINANCE}),
    BuildingView.SETTLEMENTS: frozenset({Role.FINANCE}),
    BuildingView.HEALTH: frozenset({Role.TECHNICIAN}),
}


def flat_not_found(flat_id: str) -> Denied:
    return Denied(
        NOT_FOUND,
        f"Lejlighed {flat_id!r} findes ikke (eller er ikke din) / flat {flat_id!r} does not "
        "exist (or is not yours)",
    )


def _role_refused(principal: Principal, what_da: str, what_en: str) -> Denied:
    return Denied(
        FORBIDDEN,
        f"Rollen {principal.role} har ikke adgang til {what_da} / the role {principal.role} "
        f"may not see {what_en}",
    )


def check_flat(
    principal: Principal, building_id: str, flat_id: str, view: FlatView, *, consented: bool
) -> None:
    """May `principal` use `view` of flat `flat_id` in `building_id`? `consented`: the flat's
    current consent to staff seeing detailed readings."""
    if principal.role is Role.RESIDENT:
        if not principal.lives_in(flat_id):
            raise flat_not_found(flat_id)
        return
    if principal.role not in STAFF:
        raise _role_refused(principal, "beboernes lejligheder", "residents' flats")
    if building_id not in principal.buildings:
        raise Denied(
            FORBIDDEN,
            f"Lejlighed {flat_id} ligger i bygning {building_id}, som du ikke er tilknyttet / "
            f"flat {flat_id} is in building {building_id}, which is not assigned to you",
        )
    if view is FlatView.DETAIL and not consented:
        raise Denied(
            FORBIDDEN,
            f"Beboerne i {flat_id} har ikke givet samtykke til at personalet ser detaljerede "
            "målinger; månedstal og nøgletal kan ses under /monthly / the residents of "
            f"{flat_id} have not consented to staff seeing detailed readings; monthly figures "
            "and key figures are under /monthly",
        )
    if view is FlatView.CONSENT_WRITE:
        raise Denied(
            FORBIDDEN,
            f"Kun beboerne i {flat_id} kan give eller trække samtykke / only the residents of "
            f"{flat_id} can give or withdraw consent",
        )
    if view is FlatView.HEAT_SHARE:
        raise Denied(
            FORBIDDEN,
            "Lejlighedens eget varmeskøn er beboerens; personalet bruger bygningens "
            "varmeandele / a flat's own heating estimate is the resident's; staff use the "
            "building's heat shares",
        )


def needs_detail_audit(principal: Principal, flat_id: str) -> bool:
    """A read of detailed readings is audited unless the reader lives in the flat."""
    return not principal.lives_in(flat_id)


def check_building(principal: Principal, building_id: str, view: BuildingView) -> None:
    allowed = _BUILDING_ROLES[view]
    if principal.role not in allowed:
        names = " / ".join(sorted(r.value for r in allowed))
        raise Denied(
            FORBIDDEN,
            f"Rollen {principal.role} har ikke adgang her; det kræver {names} / the role "
            f"{principal.role} may not use this; it needs {names}",
        )
    if principal.role is Role.ADMIN:
        return
    if building_id not in principal.buildings:
        raise Denied(
            FORBIDDEN,
            f"Bygning {building_id} er ikke tilknyttet dig / building {building_id} is not "
            "assigned to you",
        )


def check_building_list(principal: Principal) -> None:
    """May `principal` list buildings at all (then filter with `visible_buildings`)?"""
    if principal.role not in _BUILDING_ROLES[BuildingView.STRUCTURE]:
        raise _role_refused(principal, "bygningslisten", "the list of buildings")


def check_alerts(principal: Principal) -> None:
    if principal.role not in (Role.RESIDENT, Role.TECHNICIAN):
        raise _role_refused(principal, "alarmer", "alerts")


def check_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Denied(
            FORBIDDEN,
            f"Kun en administrator kan dette (du er {principal.role}) / only an admin can do "
            f"this (you are {principal.role})",
        )


def check_own_data(principal: Principal) -> None:
    """Export and erasure of one's own data: every logged-in person."""


def visible_flats(principal: Principal, flats: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (building_id, flat_id) pairs among `flats` listed to `principal`: a resident's own,
    a staff member's buildings' flats, every flat for an admin (ids only: to link residents;
    an admin sees no readings)."""
    if principal.role is Role.RESIDENT:
        return [pair for pair in flats if pair in principal.flats]
    if principal.role in STAFF:
        return [pair for pair in flats if pair[0] in principal.buildings]
    if principal.role is Role.ADMIN:
        return list(flats)
    return []


def visible_buildings(principal: Principal, building_ids: Iterable[str]) -> list[str]:
    """The buildings whose structure `principal` may see."""
    if principal.role is Role.ADMIN:
        return list(building_ids)
    if principal.role in STAFF:
        return [b for b in building_ids if b in principal.buildings]
    return []


def alert_scope(principal: Principal) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """(buildings, flats) an alert list must be limited to (None: no limit on that axis)."""
    check_alerts(principal)
    if principal.role is Role.RESIDENT:
        return None, principal.flat_ids
    return principal.buildings, None
