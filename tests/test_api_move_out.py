"""A resident moves out, through the real app on a real SQLite store, with the accounts on
SQLite and on a real PostgreSQL: ``indeklima users move-out`` ends the tenancy; the leaver no
longer sees the flat (404) and their consent no longer counts; the next tenant sees nothing from
before moving in; each one's export covers exactly their own [since, until); the leaver's
erasure deletes their months and nothing of the next tenant's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cloud.accounts import Role
from cloud.cli import main as cli_main
from cloud.store.base import CLIMATE
from cloud.store.rollup import refresh_rollups
from tests.accounts_kit import accounts_url
from tests.api_kit import JAN, PASSWORD, Api, fill_store, running_api

MAR_1 = datetime(2026, 2, 28, 23, tzinfo=UTC)  # 2026-03-01 00:00 Danish time
DATA_END = JAN + timedelta(hours=90 * 24)  # hourly readings in [JAN, DATA_END)
FLAT = "B2-02"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp(f"move-out-{request.param}")
    url = accounts_url(request, folder, "moveout")
    with running_api(folder, url) as api:
        fill_store(api.store, "B2", days=90, start=JAN)  # January to March
        refresh_rollups(api.store, "B2", JAN, DATA_END)  # what the hourly job does
        api.accounts.create_user("flytter", Role.RESIDENT, PASSWORD)
        api.accounts.add_resident("flytter", FLAT, since=JAN)
        assert api.call(
            "PUT", f"/api/flats/{FLAT}/consent", "flytter", json={"staff_detail": True}
        ).json()["staff_detail"]
        assert api.get(f"/api/flats/{FLAT}/climate", "tech").status_code == 200
        moved = ["users", "move-out", "flytter", "--flat", FLAT, "--date", "2026-03-01"]
        assert cli_main([*moved, "--db-url", url]) == 0
        api.accounts.create_user("ny", Role.RESIDENT, PASSWORD)
        api.accounts.add_resident("ny", FLAT, since=MAR_1)
        yield api


def hours(api: Api, flat: str, start: datetime, end: datetime) -> int:
    return len(api.store.query(CLIMATE, start, end, where={"building": "B2", "flat": flat}))


def export(api: Api, user: str) -> dict[str, Any]:
    response = api.get("/api/me/export", user)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def times(body: dict[str, Any]) -> list[datetime]:
    return [datetime.fromisoformat(r["time"]) for r in body["readings"]]


def test_the_leaver_keeps_the_login_but_not_the_flat(api: Api) -> None:
    me = api.get("/api/me", "flytter")
    assert me.status_code == 200 and me.json()["flats"] == []
    assert api.get("/api/flats", "flytter").json() == []
    for path in ("climate", "monthly?month=2026-02", "consent", "heat-share"):
        assert api.get(f"/api/flats/{FLAT}/{path}", "flytter").status_code == 404, path
    put = api.call("PUT", f"/api/flats/{FLAT}/consent", "flytter", json={"staff_detail": True})
    assert put.status_code == 404


def test_the_leavers_consent_no_longer_counts_the_new_tenants_does(api: Api) -> None:
    refused = api.get(f"/api/flats/{FLAT}/climate", "tech")
    assert refused.status_code == 403 and "consented" in refused.json()["detail"]
    assert api.get(f"/api/flats/{FLAT}/consent", "ny").json()["staff_detail"] is False
    given = api.call("PUT", f"/api/flats/{FLAT}/consent", "ny", json={"staff_detail": True})
    assert given.json()["staff_detail"] is True
    assert api.get(f"/api/flats/{FLAT}/climate", "tech").status_code == 200


def test_the_new_tenant_sees_nothing_from_before_moving_in(api: Api) -> None:
    window = {"start": "2026-02-28T12:00:00Z", "end": "2026-03-01T12:00:00Z"}
    readings = api.get(f"/api/flats/{FLAT}/readings", "ny", params=window).json()["readings"]
    seen = sorted(datetime.fromisoformat(r["time"]) for r in readings)
    assert seen[0] == MAR_1 and len(seen) == 13  # 23:00 to 11:00 UTC, none before
    tech = api.get(f"/api/flats/{FLAT}/readings", "tech", params=window).json()["readings"]
    assert len(tech) == 24  # staff with consent: the flat's readings, as before
    february = api.get(f"/api/flats/{FLAT}/monthly?month=2026-02", "ny").json()
    assert (february["readings"], february["temperature_mean_c"], february["sensors"]) == (
        0,
        None,
        [],
    )
    march = api.get(f"/api/flats/{FLAT}/monthly?month=2026-03", "ny").json()
    assert march["readings"] == 743  # the whole local March (23 h on the 29th)
    assert api.get(f"/api/flats/{FLAT}/monthly?month=2026-02", "tech").json()["readings"] == 672


@pytest.mark.parametrize(
    ("start", "resolution"),
    [
        ("2026-02-28T12:00:00Z", "raw"),
        ("2026-02-10T00:00:00Z", "hourly"),
        ("2025-12-01T00:00:00Z", "daily"),
    ],
)
def test_the_new_tenants_chart_starts_at_moving_in(api: Api, start: str, resolution: str) -> None:
    """An hourly or daily point that begins before the move-in holds the previous tenant's
    readings: the chart series leaves it out for the new tenant, not for staff with consent."""
    window = {"start": start, "end": "2026-03-20T00:00:00Z"}
    if resolution == "raw":
        window["end"] = "2026-03-01T12:00:00Z"
    mine = api.get(f"/api/flats/{FLAT}/climate", "ny", params=window).json()
    staff = api.get(f"/api/flats/{FLAT}/climate", "tech", params=window).json()
    assert mine["resolution"] == staff["resolution"] == resolution
    first = int(MAR_1.timestamp())
    mine_times = [t for room in mine["rooms"] for t in room["time_s"]]
    staff_times = [t for room in staff["rooms"] for t in room["time_s"]]
    assert mine_times and min(mine_times) == first
    assert min(staff_times) < first
    assert sorted(mine_times) == sorted(t for t in staff_times if t >= first)


def test_alerts_are_listed_and_exported_for_the_tenancy_they_were_active_in(api: Api) -> None:
    """An alert that cleared in February was the leaver's only; one raised in February and
    still open is about the flat now: the new tenant sees it too."""
    from cloud.analytics.alert_store import AlertStore
    from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity

    feb_10 = MAR_1 - timedelta(days=19)
    cleared = Alert(
        "B2", FLAT, AlertKind.SURFACE_RH, Severity.WARN, AlertState.CLEARED, 84.0,
        feb_10, feb_10 + timedelta(days=1), feb_10 + timedelta(days=1),
    )  # fmt: skip
    still_open = Alert(
        "B2", FLAT, AlertKind.SURFACE_RH, Severity.ALARM, AlertState.ESCALATED, 91.0,
        feb_10 + timedelta(days=5), datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    with AlertStore(api.alerts_url) as store:
        store.save([cleared, still_open])

    def raised(alerts: list[dict[str, Any]]) -> set[datetime]:
        return {datetime.fromisoformat(a["raised_at"]) for a in alerts if a["flat"] == FLAT}

    both = {cleared.raised_at, still_open.raised_at}
    assert raised(api.get("/api/alerts", "ny").json()) == {still_open.raised_at}
    assert raised(api.get("/api/alerts", "flytter").json()) == set()  # not their flat now
    assert raised(api.get("/api/alerts", "tech").json()) == both
    assert raised(export(api, "flytter")["alerts"]) == both
    assert raised(export(api, "ny")["alerts"]) == {still_open.raised_at}


def test_each_export_covers_exactly_its_own_tenancy(api: Api) -> None:
    leaver = export(api, "flytter")
    seen = times(leaver)
    assert len(seen) == (MAR_1 - JAN) // timedelta(hours=1) == 59 * 24
    assert (min(seen), max(seen)) == (JAN, MAR_1 - timedelta(hours=1))
    assert {r["flat"] for r in leaver["readings"]} == {FLAT}
    (flat,) = leaver["flats"]
    assert (flat["flat"], flat["until"]) == (FLAT, MAR_1.isoformat())
    assert list(leaver["consent"]) == [FLAT]
    tenant = export(api, "ny")
    seen = times(tenant)
    assert (min(seen), len(seen)) == (MAR_1, (DATA_END - MAR_1) // timedelta(hours=1))
    assert all(t >= MAR_1 for t in seen)


def test_the_leavers_erasure_deletes_their_months_and_nothing_of_the_next_tenants(
    api: Api,
) -> None:
    before_b2_01 = hours(api, "B2-01", JAN, DATA_END)
    tenant_hours = hours(api, FLAT, MAR_1, DATA_END)
    assert hours(api, FLAT, JAN, MAR_1) == 59 * 24
    asked = api.call("POST", "/api/me/erasure", "flytter")
    assert asked.status_code == 202, asked.text
    done = api.call("POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "admin")
    assert done.status_code == 200, done.text
    assert hours(api, FLAT, JAN, MAR_1) == 0
    assert hours(api, FLAT, MAR_1, DATA_END) == tenant_hours == 31 * 24
    assert hours(api, "B2-01", JAN, DATA_END) == before_b2_01 == 90 * 24
    body = done.json()
    assert [(d["flat"], d["first_day"], d["last_day"]) for d in body["readings_deleted"]] == [
        (FLAT, "2026-01-01", "2026-02-28")
    ]
    assert body["readings_kept"] == []
    assert len(times(export(api, "ny"))) == tenant_hours  # the next tenant's are all there


def test_a_leavers_erasure_keeps_a_co_residents_time_and_an_approved_run_up_to_the_move_out(
    api: Api,
) -> None:
    """B1-03: A lived there from 1 January and moved out on 15 February; B moved in on 11
    January and stayed; B1's February run is approved (it straddles the move-out). A's erasure
    deletes 1-10 January only: 11 January - 14 February is B's too, and 1-14 February is also
    the basis of the approved run; nothing after the move-out is in A's plan at all."""
    from cloud.accounts.users import move_out_instant

    fill_store(api.store, "B1", days=90, start=JAN)
    jan_11, feb_15 = move_out_instant("2026-01-11"), move_out_instant("2026-02-15")
    for name, since in (("a3", JAN), ("b3", jan_11)):
        api.accounts.create_user(name, Role.RESIDENT, PASSWORD)
        api.accounts.add_resident(name, "B1-03", since=since)
    api.accounts.move_out("a3", "B1-03", feb_15)
    runs = "/api/buildings/B1/settlements"
    february = {"period_start": "2026-02", "period_end": "2026-02", "total_cost_dkk": "9000.00"}
    created = api.call("POST", runs, "fin", json=february)
    assert created.status_code == 201, created.text
    path = f"{runs}/{created.json()['run_id']}"
    assert api.call("POST", f"{path}/check", "fin2").status_code == 200
    assert api.call("POST", f"{path}/approve", "fin1").status_code == 200

    def b1_03(start: datetime, end: datetime) -> int:
        return len(api.store.query(CLIMATE, start, end, where={"building": "B1", "flat": "B1-03"}))

    after = b1_03(jan_11, DATA_END)
    asked = api.call("POST", "/api/me/erasure", "a3")
    done = api.call("POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "admin")
    assert done.status_code == 200, done.text
    assert b1_03(JAN, jan_11) == 0
    assert b1_03(jan_11, DATA_END) == after == (DATA_END - jan_11) // timedelta(hours=1)
    body = done.json()
    assert [(d["first_day"], d["last_day"]) for d in body["readings_deleted"]] == [
        ("2026-01-01", "2026-01-10")
    ]
    kept = sorted(
        (k["because"], k["first_day"], k["last_day"], datetime.fromisoformat(k["end"]))
        for k in body["readings_kept"]
    )
    assert kept == [  # both end at the move-out, though the run and B go on
        ("approved_settlement", "2026-02-01", "2026-02-14", feb_15),
        ("co_resident", "2026-01-11", "2026-02-14", feb_15),
    ]
