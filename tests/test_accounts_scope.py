"""The one authorisation module as a table: role × flat (own, other in scope, out of scope) ×
view × consent → allowed, 403 or 404. The API's access matrix (tests/test_api_access.py) checks
the same rules through every endpoint."""

from __future__ import annotations

import pytest

from cloud.accounts.principal import Principal, Role
from cloud.accounts.scope import (
    BuildingView,
    Denied,
    FlatView,
    alert_scope,
    check_admin,
    check_building,
    check_flat,
    needs_detail_audit,
    visible_buildings,
    visible_flats,
)


def person(role: Role) -> Principal:
    resident = role is Role.RESIDENT
    return Principal(
        user_id=1,
        username=role.value,
        display_name=role.value,
        role=role,
        flats=frozenset({("B1", "B1-01")}) if resident else frozenset(),
        buildings=frozenset() if resident or role is Role.ADMIN else frozenset({"B1"}),
        organisations=frozenset(),
    )


OK, NO, HIDDEN = 200, 403, 404
R, T, F, A = Role.RESIDENT, Role.TECHNICIAN, Role.FINANCE, Role.ADMIN
# flat: B1-01 (the resident's own, in the staff's building), B1-02 (same building, not the
# resident's), B2-01 (outside everybody's scope)
FLAT_RULES = [
    # role, flat, view, consented, expected
    (R, "B1-01", FlatView.SUMMARY, False, OK),
    (R, "B1-01", FlatView.DETAIL, False, OK),
    (R, "B1-01", FlatView.CONSENT_WRITE, False, OK),
    (R, "B1-01", FlatView.HEAT_SHARE, False, OK),
    (R, "B1-02", FlatView.SUMMARY, True, HIDDEN),
    (R, "B1-02", FlatView.DETAIL, True, HIDDEN),
    (R, "B2-01", FlatView.CONSENT_READ, True, HIDDEN),
    (T, "B1-01", FlatView.SUMMARY, False, OK),
    (T, "B1-01", FlatView.DETAIL, False, NO),
    (T, "B1-01", FlatView.DETAIL, True, OK),
    (T, "B1-01", FlatView.CONSENT_READ, False, OK),
    (T, "B1-01", FlatView.CONSENT_WRITE, True, NO),
    (T, "B1-01", FlatView.HEAT_SHARE, True, NO),
    (T, "B2-01", FlatView.SUMMARY, True, NO),
    (T, "B2-01", FlatView.DETAIL, True, NO),
    (F, "B1-02", FlatView.SUMMARY, False, OK),
    (F, "B1-02", FlatView.DETAIL, False, NO),
    (F, "B1-02", FlatView.DETAIL, True, OK),
    (F, "B2-01", FlatView.SUMMARY, False, NO),
    (A, "B1-01", FlatView.SUMMARY, True, NO),
    (A, "B1-01", FlatView.DETAIL, True, NO),
]


@pytest.mark.parametrize(
    ("role", "flat", "view", "consented", "expected"),
    [pytest.param(*rule, id="-".join(str(x) for x in rule)) for rule in FLAT_RULES],
)
def test_flat_rules(role: Role, flat: str, view: FlatView, consented: bool, expected: int) -> None:
    building = flat.split("-")[0]
    if expected == OK:
        check_flat(person(role), building, flat, view, consented=consented)
        return
    with pytest.raises(Denied) as denied:
        check_flat(person(role), building, flat, view, consented=consented)
    assert denied.value.status == expected
    assert " / " in denied.value.reason


BUILDING_RULES = [
    (R, "B1", BuildingView.STRUCTURE, NO),
    (T, "B1", BuildingView.STRUCTURE, OK),
    (T, "B1", BuildingView.CLIMATE, OK),
    (T, "B1", BuildingView.SETTLEMENTS, NO),
    (T, "B2", BuildingView.CLIMATE, NO),
    (F, "B1", BuildingView.HEAT_SHARES, OK),
    (F, "B1", BuildingView.SETTLEMENTS, OK),
    (F, "B1", BuildingView.CLIMATE, NO),
    (F, "B2", BuildingView.SETTLEMENTS, NO),
    (T, "B1", BuildingView.HEALTH, OK),
    (T, "B2", BuildingView.HEALTH, NO),
    (F, "B1", BuildingView.HEALTH, NO),
    (R, "B1", BuildingView.HEALTH, NO),
    (A, "B2", BuildingView.STRUCTURE, OK),
    (A, "B1", BuildingView.SETTLEMENTS, NO),
]


@pytest.mark.parametrize(
    ("role", "building", "view", "expected"),
    [pytest.param(*rule, id="-".join(str(x) for x in rule)) for rule in BUILDING_RULES],
)
def test_building_rules(role: Role, building: str, view: BuildingView, expected: int) -> None:
    if expected == OK:
        check_building(person(role), building, view)
        return
    with pytest.raises(Denied) as denied:
        check_building(person(role), building, view)
    assert denied.value.status == expected


def test_lists_are_filtered_and_audits_are_asked_for_staff_only() -> None:
    flats = [("B1", "B1-01"), ("B1", "B1-02"), ("B2", "B2-01")]
    assert visible_flats(person(R), flats) == [("B1", "B1-01")]
    assert visible_flats(person(T), flats) == flats[:2]
    assert visible_flats(person(A), flats) == flats
    assert visible_buildings(person(F), ["B1", "B2"]) == ["B1"]
    assert visible_buildings(person(R), ["B1", "B2"]) == []
    assert alert_scope(person(R)) == (None, frozenset({"B1-01"}))
    assert alert_scope(person(T)) == (frozenset({"B1"}), None)
    with pytest.raises(Denied):
        alert_scope(person(F))
    assert not needs_detail_audit(person(R), "B1-01")
    assert needs_detail_audit(person(T), "B1-01")
    check_admin(person(A))
    with pytest.raises(Denied, match="only an admin"):
        check_admin(person(F))
