"""People through the API, on SQLite and on a real PostgreSQL: login and lock-out, logout and
revocation, consent and its history, the audit trail, four eyes on settlements by identity,
GDPR export and erasure, admin endpoints; plus abuse: huge bodies, out-of-range values."""

from __future__ import annotations

import csv
import io
import json
import logging
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from cloud.store.base import CLIMATE
from tests.accounts_kit import accounts_url
from tests.api_kit import PASSWORD, Api, running_api


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp(f"people-{request.param}")
    url = accounts_url(request, folder, "api")
    with running_api(folder, url) as api:
        yield api


def audit(api: Api, **filters: str) -> list[dict[str, object]]:
    response = api.get("/api/audit", "admin", params=filters)
    assert response.status_code == 200, response.text
    entries: list[dict[str, object]] = response.json()
    return entries


# -- login ------------------------------------------------------------------------------------


def test_login_me_and_logout(api: Api) -> None:
    response = api.login("RES1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 12 * 3600
    token = body["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = requests.get(api.url + "/api/me", headers=headers, timeout=10).json()
    assert me == {
        "username": "res1",
        "display_name": "Res1",
        "role": "resident",
        "flats": [{"building": "B1", "flat": "B1-01", "key": "B1-01"}],
        "buildings": [],
        "organisations": [],
    }
    assert requests.post(api.url + "/api/logout", headers=headers, timeout=10).status_code == 204
    after = requests.get(api.url + "/api/me", headers=headers, timeout=10)
    assert after.status_code == 401
    assert "log ind igen" in after.json()["detail"]


def test_wrong_passwords_then_lock_out_with_the_time_it_unlocks(api: Api) -> None:
    api.accounts.create_user("locky", "finance", PASSWORD)  # type: ignore[arg-type]
    for _ in range(4):
        wrong = api.login("locky", "not the password")
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"] == "Bearer"
        assert "wrong username or password" in wrong.json()["detail"]
    locked = api.login("locky", "not the password")
    assert locked.status_code == 429
    assert "locked until" in locked.json()["detail"]
    assert "spærret til" in locked.json()["detail"]
    assert 800 < int(locked.headers["Retry-After"]) <= 900
    assert api.login("locky").status_code == 429  # the right password waits too
    actions = [e["action"] for e in audit(api, user="locky")]
    assert actions.count("login.failed") == 5
    assert actions.count("login.locked_out") == 1
    unknown = api.login("nobody-at-all", "whatever password")
    assert unknown.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


def test_a_login_form_without_fields_is_a_422(api: Api) -> None:
    response = requests.post(api.url + "/api/token", data={"username": "x"}, timeout=10)
    assert response.status_code == 422
    assert "password" in response.json()["detail"]


def test_password_change_and_disabling_end_sessions_at_once(api: Api) -> None:
    create = {"username": "temp.tech", "role": "technician", "password": PASSWORD}
    assert api.call("POST", "/api/admin/users", "admin", json=create).status_code == 201
    assert api.call("POST", "/api/admin/users", "admin", json=create).status_code == 409
    token = api.token("temp.tech")
    assert api.get("/api/me", "temp.tech").status_code == 200
    new = {"password": "another fine password"}
    changed = api.call("PUT", "/api/admin/users/temp.tech/password", "admin", json=new)
    assert changed.status_code == 204
    assert api.get("/api/me", "temp.tech").status_code == 401
    del api.tokens["temp.tech"]
    token = api.login("temp.tech", "another fine password").json()["access_token"]
    api.tokens["temp.tech"] = token
    disabled = api.call(
        "PUT", "/api/admin/users/temp.tech/disabled", "admin", json={"disabled": True}
    )
    assert disabled.json()["disabled"] is True
    assert api.get("/api/me", "temp.tech").status_code == 401
    assert api.login("temp.tech", "another fine password").status_code == 401
    me = api.call("PUT", "/api/admin/users/admin/disabled", "admin", json={"disabled": True})
    assert me.status_code == 409
    actions = {e["action"] for e in audit(api, user="admin")}
    assert {"user.created", "user.password_changed", "user.disabled"} <= actions


def test_admin_assigns_scopes_and_bad_requests_are_explained(api: Api) -> None:
    new = {"username": "newres", "role": "resident", "password": PASSWORD}
    assert api.call("POST", "/api/admin/users", "admin", json=new).status_code == 201
    added = api.call(
        "POST", "/api/admin/users/newres/scopes", "admin", json={"kind": "flat", "id": "B2-02"}
    )
    assert added.json()["flats"] == ["B2-02"]
    wrong = api.call(
        "POST", "/api/admin/users/newres/scopes", "admin", json={"kind": "building", "id": "B1"}
    )
    assert wrong.status_code == 422
    assert "resident" in wrong.json()["detail"]
    assert api.get("/api/admin/users/nobody", "admin").status_code == 404
    short = {"username": "x2", "role": "admin", "password": "short"}
    assert "mindst 10" in api.call("POST", "/api/admin/users", "admin", json=short).text
    removed = api.call("DELETE", "/api/admin/users/newres/scopes?kind=flat&id=B2-02", "admin")
    assert removed.json()["flats"] == []
    flat_actions = [e["action"] for e in audit(api, flat="B2-02")]
    assert flat_actions[:2] == ["resident.removed", "resident.added"]


# -- consent and audit ------------------------------------------------------------------------


def test_consent_takes_effect_at_once_and_keeps_its_history(api: Api) -> None:
    detail = "/api/flats/B1-02/readings?start=2026-01-10T00:00:00Z&end=2026-01-10T03:00:00Z"
    assert api.get(detail, "tech1").status_code == 403
    assert "samtykke" in api.get(detail, "tech1").json()["detail"]
    granted = api.call("PUT", "/api/flats/B1-02/consent", "res2", json={"staff_detail": True})
    assert granted.status_code == 200
    assert granted.json()["staff_detail"] is True
    readings = api.get(detail, "tech1")
    assert readings.status_code == 200
    assert len(readings.json()["readings"]) == 3
    assert readings.json()["readings"][0]["temperature_c"] == 21.0
    withdrawn = api.call("PUT", "/api/flats/B1-02/consent", "res2", json={"staff_detail": False})
    assert [h["staff_detail"] for h in withdrawn.json()["history"]] == [True, False]
    assert all(h["by"] == "res2" for h in withdrawn.json()["history"])
    assert api.get(detail, "tech1").status_code == 403
    staff_view = api.get("/api/flats/B1-02/consent", "tech1").json()
    assert staff_view["staff_detail"] is False
    assert staff_view["history"] == []  # the residents' history is theirs
    bad = api.call("PUT", "/api/flats/B1-02/consent", "res2", json={"staff_detail": "ja"})
    assert bad.status_code == 422
    entries = audit(api, flat="B1-02")
    actions = [e["action"] for e in entries]
    assert actions[:3] == ["consent.withdrawn", "flat.detail_read", "consent.granted"]
    read = entries[1]
    assert (read["username"], read["address"]) == ("tech1", "127.0.0.1")
    assert read["detail"]["what"] == "readings"  # type: ignore[index]


def test_a_start_alone_means_the_day_from_it(api: Api) -> None:
    day = api.get("/api/flats/B1-01/readings?start=2026-01-10T00:00:00Z", "res1").json()
    assert (day["start"], day["end"]) == ("2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z")
    assert len(day["readings"]) == 24 and day["readings"][0]["sensor"] == "B1-01"


@pytest.mark.parametrize(
    ("route", "what"), [("climate", "climate series"), ("readings", "readings")]
)
def test_a_residents_own_reads_are_not_audited_but_staff_reads_are(
    api: Api, route: str, what: str
) -> None:
    path = f"/api/flats/B1-01/{route}?start=2026-01-11T00:00:00Z&end=2026-01-11T02:00:00Z"
    before = len(audit(api, flat="B1-01", action="flat.detail_read"))
    assert api.get(path, "res1").status_code == 200
    assert len(audit(api, flat="B1-01", action="flat.detail_read")) == before
    assert api.get(path, "fin1").status_code == 200
    after = audit(api, flat="B1-01", action="flat.detail_read")
    assert len(after) == before + 1
    assert after[0]["username"] == "fin1"
    assert after[0]["detail"]["what"] == what  # type: ignore[index]


def test_staff_see_the_climate_series_only_while_the_residents_consent(api: Api) -> None:
    path = "/api/flats/B1-02/climate?start=2026-01-10T00:00:00Z&end=2026-01-10T03:00:00Z"
    refused = api.get(path, "tech1")
    assert refused.status_code == 403 and "samtykke" in refused.json()["detail"]
    assert api.get(path, "res2").status_code == 200  # the flat's own resident
    assert api.call("PUT", "/api/flats/B1-02/consent", "res2", json={"staff_detail": True})
    try:
        series = api.get(path, "tech1")
        assert series.status_code == 200, series.text
        body = series.json()
        assert (body["flat"], body["resolution"], body["step_s"]) == ("B1-02", "raw", 300)
        (living,) = body["rooms"]
        assert living["room"] == "living" and len(living["time_s"]) == 3
        assert audit(api, flat="B1-02", action="flat.detail_read")[0]["username"] == "tech1"
    finally:
        api.call("PUT", "/api/flats/B1-02/consent", "res2", json={"staff_detail": False})
    assert api.get(path, "tech1").status_code == 403


def test_the_building_climate_summary_audits_each_flat_it_shows(api: Api) -> None:
    path = "/api/buildings/B1/climate?since=2026-01-12T00:00:00Z&until=2026-01-12T06:00:00Z"
    summary = api.get(path, "tech1").json()
    shown = [f["flat"] for f in summary["flats"]]
    assert "B1-03" in summary["withheld"] and "B1-03" not in shown
    reads = audit(api, user="tech1", action="flat.detail_read")
    assert {e["flat"] for e in reads[: len(shown)]} == set(shown)
    assert all(e["detail"]["what"] == "building climate" for e in reads[: len(shown)])  # type: ignore[index]


def test_the_audit_trail_filters_and_cannot_be_changed_through_the_api(api: Api) -> None:
    api.get("/api/me", "tech1")
    everything = audit(api)
    assert everything and all(e["id"] > 0 for e in everything)
    newest = everything[0]["at"]
    assert audit(api, since=str(newest).replace("+00:00", "Z"))
    assert audit(api, until="2001-01-01T00:00:00Z") == []
    assert {e["action"] for e in audit(api, action="login")} == {"login"}
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        assert api.call(method, "/api/audit", "admin").status_code == 405
    assert api.get("/api/audit", "tech1").status_code == 403


def test_access_log_names_the_user_never_the_token(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="indeklima.api.access")
    token = api.token("tech1")
    api.get("/api/me?x=1", "tech1")

    def access_lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "indeklima.api.access"]

    # the server thread logs the line once the response is sent, which may be after the client
    # has it: wait for it rather than race it
    deadline = time.monotonic() + 10
    while not any("/api/me " in line for line in access_lines()) and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = access_lines()
    mine = [line for line in lines if "/api/me " in line]
    assert mine and "user=tech1" in mine[-1] and " 200 " in mine[-1]
    assert not any(token in line for line in lines)
    assert not any("x=1" in line for line in lines)


# -- four eyes --------------------------------------------------------------------------------

SETTLE = {"period_start": "2026-01", "period_end": "2026-01", "total_cost_dkk": "9000.00"}


def test_four_eyes_by_identity_and_every_step_audited(api: Api) -> None:
    runs = "/api/buildings/B1/settlements"
    typed = api.call("POST", runs, "fin", json={**SETTLE, "by": "alice"})
    assert typed.status_code == 422
    assert "the name on the run is the logged-in user's" in typed.json()["detail"]
    run = api.call("POST", runs, "fin", json=SETTLE).json()
    path = f"{runs}/{run['run_id']}"
    assert run["created_by"] == "fin"
    assert api.call("POST", f"{path}/check", "fin2", json={"by": "Alice"}).status_code == 422
    assert api.call("POST", f"{path}/check", "fin2").json()["checked_by"] == "fin2"
    for person in ("fin", "fin2"):  # the drafter and the checker
        refused = api.call("POST", f"{path}/approve", person)
        assert refused.status_code == 403, refused.text
        assert "someone else must approve" in refused.json()["detail"]
    assert api.call("POST", f"{path}/approve", "tech1").status_code == 403  # not finance
    approved = api.call("POST", f"{path}/approve", "fin1")
    assert approved.status_code == 200, approved.text
    assert (approved.json()["approved_by"], approved.json()["state"]) == ("fin1", "approved")
    trail = (
        [(e["action"], e["username"]) for e in audit(api, action="")]
        if False
        else [(e["action"], e["username"]) for e in audit(api) if e["run_id"] == run["run_id"]]
    )
    assert trail[::-1] == [
        ("settlement.created", "fin"),
        ("settlement.checked", "fin2"),
        ("settlement.refused", "fin"),
        ("settlement.refused", "fin2"),
        ("settlement.approved", "fin1"),
    ]


# -- GDPR -------------------------------------------------------------------------------------


def test_export_streams_everything_about_me_and_my_flat(api: Api) -> None:
    with requests.get(
        api.url + "/api/me/export?format=json",
        headers={"Authorization": f"Bearer {api.token('res3')}"},
        stream=True,
        timeout=120,
    ) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked"
        assert "attachment" in response.headers["content-disposition"]
        data = json.loads(response.content)
    assert data["user"]["username"] == "res3"
    assert data["flats"] == [
        {"flat": "B2-01", "since": "2025-12-31T23:00:00+00:00", "until": None}  # still there
    ]
    assert data["consent"]["B2-01"][0]["staff_detail"] is True
    assert {r["flat"] for r in data["readings"]} == {"B2-01"}
    assert len(data["readings"]) >= 31 * 24
    assert data["sessions"] and "token" not in json.dumps(data["sessions"])
    assert any(e["action"] == "consent.granted" for e in data["audit"])
    as_csv = api.get("/api/me/export?format=csv", "res3")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["section", "item", "field", "value"]
    readings = [r for r in rows if r[0] == "reading"]
    assert len(readings) == len(data["readings"])
    assert {r[2] for r in readings} == {"B2-01"}
    assert api.get("/api/me/export?format=xml", "res3").status_code == 422
    assert audit(api, user="res3", action="me.export")


def test_export_holds_my_flats_rows_of_approved_settlements(api: Api) -> None:
    from datetime import UTC, datetime

    from tests.api_kit import fill_store

    fill_store(api.store, "B1", days=28, start=datetime(2026, 1, 31, 23, tzinfo=UTC))
    runs = "/api/buildings/B1/settlements"
    february = {**SETTLE, "period_start": "2026-02", "period_end": "2026-02"}
    created = api.call("POST", runs, "fin", json=february)
    assert created.status_code == 201, created.text
    run = created.json()
    path = f"{runs}/{run['run_id']}"
    draft = api.get("/api/me/export", "res1").json()["settlements"]
    assert run["run_id"] not in [s["run_id"] for s in draft]  # a draft is not issued
    assert api.call("POST", f"{path}/check", "fin2").status_code == 200
    assert api.call("POST", f"{path}/approve", "fin1").status_code == 200
    mine = [s for s in api.get("/api/me/export", "res1").json()["settlements"]]
    (row,) = [s for s in mine if s["run_id"] == run["run_id"]]
    expected = {f["flat_id"]: f["amount_dkk"] for f in run["flats"]}["B1-01"]
    assert (row["flat_id"], row["state"]) == ("B1-01", "approved")
    assert row["amount_dkk"].replace(",", ".") == expected
    assert {s["flat_id"] for s in mine} == {"B1-01"}  # never a neighbour's row


def test_erasure_request_says_what_is_kept_and_an_admin_completes_it(api: Api) -> None:
    new = {"username": "leaving", "role": "resident", "password": PASSWORD}
    api.call("POST", "/api/admin/users", "admin", json=new)
    api.call(
        "POST", "/api/admin/users/leaving/scopes", "admin", json={"kind": "flat", "id": "B2-02"}
    )
    asked = api.call("POST", "/api/me/erasure", "leaving")
    assert asked.status_code == 202
    kept = " ".join(asked.json()["kept"])
    assert "bogføringsloven" in kept and "approved heating settlements" in kept
    assert asked.json()["completed_at"] is None
    again = api.call("POST", "/api/me/erasure", "leaving")
    assert again.json()["id"] == asked.json()["id"]
    waiting = api.get("/api/admin/erasure-requests?open_only=true", "admin").json()
    assert asked.json()["id"] in [w["id"] for w in waiting]
    assert (
        api.call(
            "POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "res1"
        ).status_code
        == 403
    )
    done = api.call("POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "admin")
    assert done.status_code == 200, done.text
    assert done.json()["completed_by"] == "admin"
    assert api.get("/api/me", "leaving").status_code == 401  # sessions gone
    assert api.login("leaving").status_code == 401
    assert api.get("/api/admin/users/leaving", "admin").status_code == 404
    twice = api.call("POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "admin")
    assert twice.status_code == 409
    assert audit(api, action="erasure.requested")  # the trail is kept
    assert (
        api.call(
            "POST", "/api/admin/erasure-requests/9223372036854775808/complete", "admin"
        ).status_code
        == 422
    )


# -- abuse ------------------------------------------------------------------------------------


def raw_request(api: Api, head: bytes, body: bytes = b"") -> tuple[int, float]:
    """Send a request by hand; the status and how long the answer took."""
    host, port = api.url.removeprefix("http://").split(":")
    began = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head + body)
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1]), time.monotonic() - began


def test_a_60_mb_body_without_a_token_is_refused_before_it_is_read(api: Api) -> None:
    head = (
        b"POST /api/buildings/B1/settlements HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 62914560\r\n\r\n"
    )
    status, _ = raw_request(api, head, b"{" + b" " * 1000)  # 1 kB of 60 MB: no more is sent
    assert status == 413
    chunked = (
        b"POST /api/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    )
    piece = b"a" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, _ = raw_request(api, chunked, chunk * 20)  # 1.3 MB > the 1 MiB cap
    assert status == 413


@pytest.mark.parametrize(
    ("path", "user", "says"),
    [
        pytest.param("/api/alerts?since=0001-01-01T00:00:00Z", "tech1", "2000", id="since-year-1"),
        pytest.param("/api/alerts?until=9999-12-31T23:59:59Z", "tech1", "2000", id="until-9999"),
        pytest.param("/api/flats/B1-01/monthly?month=9999-12", "res1", "YYYY-MM", id="month-9999"),
        pytest.param("/api/flats/B1-01/monthly?month=2026-13", "res1", "YYYY-MM", id="month-13"),
        pytest.param(
            "/api/buildings/B1/heat-shares?month=9999-12", "fin1", "YYYY-MM", id="shares-9999"
        ),
        pytest.param(
            "/api/buildings/B1/settlements/9223372036854775808", "fin1", "run_id", id="run-2^63"
        ),
        pytest.param("/api/buildings/B1/settlements/2147483648", "fin1", "run_id", id="run-2^31"),
        pytest.param(
            "/api/flats/B1-01/climate?start=0001-01-01T00:00:00Z", "res1", "2000", id="start-1"
        ),
        pytest.param(
            "/api/flats/B1-01/readings?start=0001-01-01T00:00:00Z", "res1", "2000", id="raw-1"
        ),
        pytest.param(
            "/api/flats/B1-01/readings?start=2026-01-01T00:00:00Z&end=2026-02-01T00:00:00Z",
            "res1",
            "7 dage",
            id="window-31-days",
        ),
        pytest.param(
            "/api/buildings/B1/climate?since=0001-01-01T00:00:00Z", "tech1", "2000", id="bclimate"
        ),
        pytest.param("/api/audit?since=0001-01-01T00:00:00Z", "admin", "2000", id="audit-since"),
        pytest.param("/api/flats/" + "x" * 300 + "/monthly", "res1", "flat_id", id="long-flat-id"),
    ],
)
def test_out_of_range_values_are_a_clear_422(api: Api, path: str, user: str, says: str) -> None:
    response = api.get(path, user)
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    assert " / " in response.json()["detail"]


def test_the_monthly_figures_of_a_flat(api: Api) -> None:
    monthly = api.get("/api/flats/B1-03/monthly?month=2026-01", "tech1").json()
    assert monthly["month"] == "2026-01"
    assert monthly["temperature_mean_c"] == 24.0
    assert monthly["co2_mean_ppm"] == 700.0
    comfort = monthly["comfort"]  # 24 °C in January is level 3 (17-25 °C), the worst here
    assert (comfort["share_level_3"], comfort["light"], comfort["intervals"]) == (1.0, "red", 744)
    cool = api.get("/api/flats/B1-01/monthly?month=2026-01", "tech1").json()["comfort"]
    assert (cool["share_level_1"], cool["light"]) == (1.0, "green")  # 21 °C, 700 ppm, 45 %
    assert monthly["mould"] == {"mould_index_max": None, "risk": "ukendt/unknown"}
    (sensor,) = monthly["sensors"]
    assert (sensor["room"], sensor["sensor"], sensor["silent"]) == ("living", "B1-03", False)
    assert sensor["last_seen"] == "2026-01-31T22:00:00Z"  # the last hour of local January
    march = api.get("/api/flats/B1-03/monthly?month=2026-03", "tech1").json()
    assert (march["readings"], march["sensors"], march["comfort"]["light"]) == (0, [], None)


def test_a_resident_sees_their_own_heating_estimate(api: Api) -> None:
    mine = api.get("/api/flats/B1-01/heat-share?month=2026-01", "res1").json()
    building = api.get("/api/buildings/B1/heat-shares?month=2026-01", "fin1").json()
    row = {f["flat"]: f for f in building["flats"]}["B1-01"]
    assert mine["estimated_ore"] == row["estimated_ore"] > 0
    assert mine["share_pct"] == row["share_pct"]


def test_demo_accounts_log_in(api: Api, tmp_path: Path) -> None:
    import tomllib

    from cloud.accounts import Accounts
    from cloud.accounts.db import make_engine
    from cloud.demo import seed_demo_people
    from cloud.registry import Registry
    from tests.api_kit import REGISTRY

    url = f"sqlite:///{tmp_path / 'demo-accounts.db'}"
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    users = seed_demo_people(url, registry, "demo password 1", api.accounts.now())
    assert users[:4] == ["admin", "technician", "finance", "finance2"]
    assert "resident-B2-02" in users
    users_again = seed_demo_people(url, registry, "demo password 2", api.accounts.now())
    assert users_again == users
    accounts = Accounts(make_engine(url))
    _, resident = accounts.login("resident-B2-02", "demo password 2", "test")
    assert resident.flat_ids == {"B2-02"}
    _, finance = accounts.login("finance2", "demo password 2", "test")
    assert finance.buildings == {"B1", "B2"}
    accounts.close()


def test_completed_erasure_deletes_tenancy_readings_but_keeps_approved_settlement_periods(
    api: Api,
) -> None:
    """On the SQLite store: B2-02's readings of the leaver's tenancy go, except February 2026,
    the period of B2's approved settlement run (bogføringsloven § 10); B2-01 is untouched."""
    from tests.api_kit import fill_store

    jan_1 = datetime(2025, 12, 31, 23, tzinfo=UTC)  # local midnight, Europe/Copenhagen
    feb_1, mar_1 = datetime(2026, 1, 31, 23, tzinfo=UTC), datetime(2026, 2, 28, 23, tzinfo=UTC)
    apr_1 = datetime(2026, 3, 31, 22, tzinfo=UTC)
    fill_store(api.store, "B2", days=90, start=jan_1)
    for name in ("leaver2", "fin3"):
        role = "resident" if name == "leaver2" else "finance"
        new = {"username": name, "role": role, "password": PASSWORD}
        assert api.call("POST", "/api/admin/users", "admin", json=new).status_code == 201
    scope = {"kind": "building", "id": "B2"}
    assert api.call("POST", "/api/admin/users/fin3/scopes", "admin", json=scope).status_code < 300
    api.accounts.add_resident("leaver2", "B2-02", since=jan_1)
    runs = "/api/buildings/B2/settlements"
    february = {**SETTLE, "period_start": "2026-02", "period_end": "2026-02"}
    created = api.call("POST", runs, "fin", json=february)
    assert created.status_code == 201, created.text
    path = f"{runs}/{created.json()['run_id']}"
    assert api.call("POST", f"{path}/check", "fin2").status_code == 200
    assert api.call("POST", f"{path}/approve", "fin3").status_code == 200

    def hours(flat: str, start: datetime, end: datetime) -> int:
        return len(api.store.query(CLIMATE, start, end, where={"building": "B2", "flat": flat}))

    def span(start: datetime, end: datetime) -> int:
        return (end - start) // timedelta(hours=1)

    assert hours("B2-02", jan_1, apr_1) == span(jan_1, apr_1)
    asked = api.call("POST", "/api/me/erasure", "leaver2")
    assert asked.json()["readings_deleted"] == []
    done = api.call("POST", f"/api/admin/erasure-requests/{asked.json()['id']}/complete", "admin")
    assert done.status_code == 200, done.text
    assert hours("B2-02", jan_1, feb_1) == 0
    assert hours("B2-02", mar_1, apr_1) == 0
    assert hours("B2-02", feb_1, mar_1) == span(feb_1, mar_1)
    assert hours("B2-01", jan_1, apr_1) == span(jan_1, apr_1)
    body = done.json()
    first, second = body["readings_deleted"]
    assert (first["flat"], first["first_day"], first["last_day"]) == (
        "B2-02",
        "2026-01-01",
        "2026-01-31",
    )
    assert (second["flat"], second["first_day"]) == ("B2-02", "2026-03-01")
    assert [
        (k["flat"], k["first_day"], k["last_day"], k["because"]) for k in body["readings_kept"]
    ] == [("B2-02", "2026-02-01", "2026-02-28", "approved_settlement")]
    listed = api.get("/api/admin/erasure-requests", "admin").json()
    (again,) = [e for e in listed if e["id"] == asked.json()["id"]]
    assert again["readings_kept"] == body["readings_kept"]
