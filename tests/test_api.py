"""The technician and finance API, served by a real uvicorn on a loopback port and called with
``requests``: who may do what, alerts, buildings, heat shares, the settlement flow and its
exports (the same bytes as ``indeklima settle``), errors in Danish and English, clean shutdown."""

from __future__ import annotations

import csv
import io
import re
import socket
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest
import requests

from cloud.accounts.db import SchemaOutOfDate
from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity
from cloud.api import ApiServer, ApiSettings, create_app
from cloud.api.documents import csv_rows
from cloud.api.server import ApiServerError
from cloud.cli import main as cli_main
from cloud.registry import Registry
from cloud.servers import free_port
from cloud.store.sqlite import SqliteStore
from tests.accounts_kit import open_accounts
from tests.api_kit import BUDGET_DKK, INDOOR_C, REGISTRY, Api, fill_store, running_api

__all__ = ["INDOOR_C", "Api", "api", "detail"]  # used by tests/test_settlement_api_finance.py


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder = tmp_path_factory.mktemp("api")
    with running_api(folder, f"sqlite:///{folder / 'accounts.db'}") as api:
        yield api


def detail(response: requests.Response) -> str:
    text: str = response.json()["detail"]
    assert " / " in text, f"not Danish / English: {text}"
    return text


# -- who may do what (the full matrix: tests/test_api_access.py) ------------------------------

ALERTS = ("GET", "/api/alerts")
BUILDINGS = ("GET", "/api/buildings")
CLIMATE_B1 = ("GET", "/api/buildings/B1/climate?until=2026-01-10T00:00:00Z")
SHARES = ("GET", "/api/buildings/B1/heat-shares?month=2026-01")
RUN_404 = ("GET", "/api/buildings/B1/settlements/999999")


@pytest.mark.parametrize(
    ("endpoint", "user", "status"),
    [
        pytest.param(ALERTS, None, 401, id="alerts-no-token"),
        pytest.param(ALERTS, "tech", 200, id="alerts-technician"),
        pytest.param(ALERTS, "fin", 403, id="alerts-finance"),
        pytest.param(BUILDINGS, None, 401, id="buildings-no-token"),
        pytest.param(BUILDINGS, "tech", 200, id="buildings-technician"),
        pytest.param(BUILDINGS, "fin", 200, id="buildings-finance"),
        pytest.param(CLIMATE_B1, "tech", 200, id="climate-technician"),
        pytest.param(CLIMATE_B1, "fin", 403, id="climate-finance"),
        pytest.param(SHARES, None, 401, id="heat-shares-no-token"),
        pytest.param(SHARES, "tech", 403, id="heat-shares-technician"),
        pytest.param(SHARES, "fin", 200, id="heat-shares-finance"),
        pytest.param(RUN_404, "tech", 403, id="settlement-technician"),
        pytest.param(RUN_404, "fin", 404, id="settlement-finance-unknown-run"),
    ],
)
def test_auth_matrix(api: Api, endpoint: tuple[str, str], user: str | None, status: int) -> None:
    method, path = endpoint
    response = api.call(method, path, user)
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    if status >= 400:
        detail(response)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer wrong-" + "w" * 30, id="unknown-token"),
        pytest.param("Bearer ", id="empty-token"),
        pytest.param("Basic dGVjaDpwdw==", id="basic-scheme"),
        pytest.param("Bearer " + "x" * 5000, id="huge-token"),
    ],
)
def test_bad_tokens_and_other_schemes_are_refused(api: Api, header: str) -> None:
    response = requests.get(api.url + "/api/alerts", headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_truncated_token_is_refused(api: Api) -> None:
    token = api.token("tech")
    response = requests.get(
        api.url + "/api/alerts", headers={"Authorization": f"Bearer {token[:-1]}"}, timeout=10
    )
    assert response.status_code == 401


def test_creating_a_settlement_needs_the_finance_role(api: Api) -> None:
    body = {"period_start": "2026-01", "period_end": "2026-01", "total_cost_dkk": "100.00"}
    response = api.call("POST", "/api/buildings/B1/settlements", "tech", json=body)
    assert response.status_code == 403
    assert "finance" in detail(response)


def test_health_needs_no_token_and_reports_the_registry(api: Api) -> None:
    response = requests.get(api.url + "/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "store": "ok",
        "alerts_db": "ok",
        "registry_buildings": 2,
        "registry_flats": 5,
    }


def test_openapi_docs_are_served_without_a_network(api: Api) -> None:
    page = requests.get(api.url + "/docs", timeout=10).text
    assert "swagger" in page.lower()
    assert "/docs/static/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page.split("<body>")[-1]
    bundle = requests.get(api.url + "/docs/static/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200
    assert len(bundle.content) > 500_000
    assert requests.get(api.url + "/docs/static/swagger-ui.css", timeout=10).status_code == 200
    paths = requests.get(api.url + "/openapi.json", timeout=10).json()["paths"]
    assert "/api/buildings/{building}/settlements/{run_id}/approve" in paths
    assert "/api/token" in paths


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        pytest.param("/api/nowhere", 404, "Ikke fundet", id="unknown-path"),
        pytest.param("/api/v1/alerts", 404, "Ikke fundet", id="old-prefix"),
        pytest.param("/api/buildings/B9", 404, "'B9'", id="unknown-building"),
        pytest.param("/api/buildings/B9/heat-shares", 404, "'B9'", id="unknown-building-2"),
        pytest.param("/api/alerts?state=nonsense", 422, "Ugyldig", id="unknown-state"),
        pytest.param("/api/alerts?since=2026-01-01T00:00", 422, "tidszone", id="naive-time"),
    ],
)
def test_errors_say_what_is_wrong_in_danish_and_english(
    api: Api, path: str, status: int, says: str
) -> None:
    user = "fin" if "heat-shares" in path else "tech"
    response = api.get(path, user)
    assert response.status_code == status
    assert says in detail(response)


# -- alerts -----------------------------------------------------------------------------------


def alert(flat: str, kind: AlertKind, state: AlertState, day: int, building: str = "B1") -> Alert:
    raised = datetime(2026, 2, day, 6, tzinfo=UTC)
    return Alert(
        building=building,
        flat=flat,
        kind=kind,
        severity=Severity.ALARM if state is AlertState.ESCALATED else Severity.WARN,
        state=state,
        value=2.5,
        raised_at=raised,
        updated_at=raised + timedelta(hours=1),
        cleared_at=raised + timedelta(hours=1) if state is AlertState.CLEARED else None,
    )


SAVED = (
    alert("B1-01", AlertKind.MOULD, AlertState.NEW, 1),
    alert("B1-02", AlertKind.CO2, AlertState.CLEARED, 2),
    alert("B1-03", AlertKind.SURFACE_RH, AlertState.ESCALATED, 3),
    alert("B2-01", AlertKind.MOULD, AlertState.NEW, 4, building="B2"),
)


@pytest.mark.parametrize(
    ("query", "flats"),
    [
        pytest.param("", ["B2-01", "B1-03", "B1-02", "B1-01"], id="all-newest-first"),
        pytest.param("?building=B1", ["B1-03", "B1-02", "B1-01"], id="building"),
        pytest.param("?building=B1&flat=B1-02", ["B1-02"], id="flat"),
        pytest.param("?state=new&state=escalated", ["B2-01", "B1-03", "B1-01"], id="open"),
        pytest.param("?kind=mould", ["B2-01", "B1-01"], id="kind"),
        pytest.param("?since=2026-02-03T00:00:00Z", ["B2-01", "B1-03"], id="since"),
        pytest.param("?limit=1", ["B2-01"], id="limit"),
    ],
)
def test_alerts_are_listed_with_filters(api: Api, query: str, flats: list[str]) -> None:
    with AlertStore(api.alerts_url) as alerts:
        alerts.save(SAVED)
    response = api.get("/api/alerts" + query, "tech")
    assert response.status_code == 200, response.text
    assert [a["flat"] for a in response.json()] == flats


def test_alerts_carry_advice_in_danish_and_english(api: Api) -> None:
    with AlertStore(api.alerts_url) as alerts:
        alerts.save(SAVED)
    (mould,) = api.get("/api/alerts?flat=B1-01", "tech").json()
    assert mould["kind"] == "mould"
    assert mould["state"] == "new"
    assert mould["severity"] == "warn"
    assert mould["advice_da"] == SAVED[0].advice_da
    assert "Luft ud" in mould["advice_da"]
    assert "Air out" in mould["advice_en"]
    assert datetime.fromisoformat(mould["raised_at"]) == SAVED[0].raised_at


# -- buildings --------------------------------------------------------------------------------


def test_buildings_list_the_registry(api: Api) -> None:
    listed = api.get("/api/buildings", "tech").json()
    assert [(b["id"], b["flats"], b["area_m2"]) for b in listed] == [
        ("B1", 3, 195.0),
        ("B2", 2, 100.0),
    ]
    assert listed[0]["heating_budget_dkk_per_month"] == float(BUDGET_DKK)
    assert listed[1]["heating_budget_dkk_per_month"] is None


def test_a_building_shows_its_flats_positions_and_gateways(api: Api) -> None:
    b1 = api.get("/api/buildings/B1", "fin").json()
    assert b1["gateways"] == ["gw-b1"]
    flat = {f["id"]: f for f in b1["flats"]}["B1-02"]
    assert flat == {
        "id": "B1-02",
        "key": "B1-02",  # the id itself: it is URL-safe
        "area_m2": 60.0,
        "floor": 0,
        "position": ["gable"],
        "position_factor": 0.9,
        "frsi": 0.7,
    }
    assert "aconto_dkk" not in flat


def test_climate_summary_per_flat_shows_only_consenting_flats(api: Api) -> None:
    response = api.get(
        "/api/buildings/B1/climate?since=2026-01-10T00:00:00Z&until=2026-01-11T00:00:00Z", "tech"
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["hours"] == 24
    by_flat = {f["flat"]: f for f in summary["flats"]}
    assert list(by_flat) == ["B1-01"]  # its resident consents; B1-02 and B1-03 do not
    assert summary["withheld"] == ["B1-02", "B1-03"]
    assert by_flat["B1-01"]["temperature_mean_c"] == 21.0
    assert by_flat["B1-01"]["hours_with_data"] == 24
    assert by_flat["B1-01"]["co2_max_ppm"] == 700.0
    assert datetime.fromisoformat(by_flat["B1-01"]["last_hour"]) == datetime(
        2026, 1, 10, 23, tzinfo=UTC
    )


def test_climate_summary_of_a_window_without_data_is_empty_per_flat(api: Api) -> None:
    response = api.get("/api/buildings/B1/climate?until=2025-06-01T00:00:00Z", "tech")
    assert [f["hours_with_data"] for f in response.json()["flats"]] == [0]
    assert response.json()["flats"][0]["temperature_mean_c"] is None


# -- heat shares ------------------------------------------------------------------------------


def test_heat_shares_split_the_monthly_budget_exactly(api: Api) -> None:
    response = api.get("/api/buildings/B1/heat-shares?month=2026-01", "fin")
    assert response.status_code == 200, response.text
    shares = response.json()
    assert Decimal(shares["expected_cost_dkk"]) == Decimal(shares["total_dkk"]) == BUDGET_DKK
    # the Danish month ends at local midnight: 2026-02-01T00:00+01:00
    assert datetime.fromisoformat(shares["as_of"]) == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert shares["month"] == "2026-01"
    by_flat = {f["flat"]: f for f in shares["flats"]}
    assert sum(f["estimated_ore"] for f in shares["flats"]) == int(BUDGET_DKK * 100)
    assert sum(f["share_pct"] for f in shares["flats"]) == pytest.approx(100.0, abs=1e-3)
    assert by_flat["B1-03"]["estimated_ore"] > by_flat["B1-01"]["estimated_ore"]  # warmer
    assert by_flat["B1-02"]["estimated_ore"] < by_flat["B1-01"]["estimated_ore"]  # gable
    assert [f["coverage_pct"] for f in shares["flats"]] == [100.0, 100.0, 100.0]


@pytest.mark.parametrize(
    ("path", "says"),
    [
        pytest.param("B2/heat-shares?month=2026-01", "heating_budget_dkk_per_month", id="budget"),
        pytest.param("B1/heat-shares?month=2099-01", "hel dag", id="month-not-begun"),
    ],
)
def test_heat_shares_conflicts_are_explained(api: Api, path: str, says: str) -> None:
    response = api.get(f"/api/buildings/{path}", "fin")
    assert response.status_code == 409
    assert says in detail(response)


# -- settlements ------------------------------------------------------------------------------

RUNS = "/api/buildings/B1/settlements"
SETTLE = {
    "period_start": "2026-01",
    "period_end": "2026-01",
    "total_cost_dkk": "12345.67",
    "bill_received": "2026-02-10",
    "statement_date": "2026-02-15",
}


def csv_amounts_ore(data: bytes) -> dict[str, int]:
    rows = csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";")
    return {r["flat_id"]: int(r["amount_dkk"].replace(",", "")) for r in rows}


def without_run_ids(data: bytes) -> list[str]:
    """The CSV's lines without the last two columns (run_id, supersedes_run_id)."""
    return [line.rsplit(";", 2)[0] for line in data.decode("utf-8-sig").splitlines()]


def xlsx_values(data: bytes) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [row[:-2] for row in sheet.iter_rows(values_only=True)]


def cli_exports(api: Api, tmp_path: Path) -> tuple[bytes, bytes]:
    out, xlsx = tmp_path / "cli.csv", tmp_path / "cli.xlsx"
    args = ["settle", "--building", "B1", "--registry", str(api.registry_path)]
    args += ["--store", f"sqlite:{api.store_path}", "--total-cost", SETTLE["total_cost_dkk"]]
    args += ["--period", "2026-01", "--out", str(out), "--xlsx", str(xlsx)]
    args += ["--statement-date", SETTLE["statement_date"], "--bill-received", "2026-02-10"]
    assert cli_main(args) == 0
    return out.read_bytes(), xlsx.read_bytes()


def test_settlement_flow_draft_check_approve_export(api: Api, tmp_path: Path) -> None:
    created = api.call("POST", RUNS, "fin", json=SETTLE)
    assert created.status_code == 201, created.text
    run = created.json()
    run_url = created.headers["Location"]
    assert run_url.endswith(f"{RUNS}/{run['run_id']}")
    assert run["state"] == "draft"
    assert run["created_by"] == "fin"  # from the login
    assert run["bill_received"] == "2026-02-10"
    assert Decimal(run["total_dkk"]) == Decimal(run["cost_dkk"]) == Decimal("12345.67")
    assert sum(Decimal(f["amount_dkk"]) for f in run["flats"]) == Decimal("12345.67")
    assert [f["flat_id"] for f in run["flats"]] == ["B1-01", "B1-02", "B1-03"]
    assert run["flats"][0]["aconto_dkk"] == "900.00"
    assert "airing_not_available" in run["notes"]
    path = f"{RUNS}/{run['run_id']}"

    # exports: the CSV adds up to the cost and has the CLI's bytes, as has the XLSX
    csv_bytes = api.get(f"{path}/export.csv", "fin").content
    assert sum(csv_amounts_ore(csv_bytes).values()) == 1_234_567
    cli_csv, cli_xlsx = cli_exports(api, tmp_path)
    # the same bytes as the CLI's but for the run id, which only the recorded run has
    assert without_run_ids(csv_bytes) == without_run_ids(cli_csv)
    assert {r["run_id"] for r in csv_rows(csv_bytes)} == {str(run["run_id"])}
    xlsx = api.get(f"{path}/export.xlsx", "fin")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert xlsx_values(xlsx.content) == xlsx_values(cli_xlsx)

    # the state machine: check, then approve by someone else; then immutable
    assert api.call("POST", f"{path}/approve", "fin2").status_code == 409  # not checked
    checked = api.call("POST", f"{path}/check", "fin")
    assert checked.status_code == 200
    assert (checked.json()["state"], checked.json()["checked_by"]) == ("checked", "fin")
    same_person = api.call("POST", f"{path}/approve", "fin")
    assert same_person.status_code == 403
    assert "fin" in detail(same_person)
    approved = api.call("POST", f"{path}/approve", "fin2")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["approved_by"] == "fin2"
    for method, action in (("POST", "/approve"), ("POST", "/check"), ("DELETE", "")):
        refused = api.call(method, path + action, "fin2")
        assert refused.status_code == 409, (action, refused.text)
        assert "godkendt" in detail(refused)
    assert api.get(path, "fin").json()["state"] == "approved"
    assert api.get(f"{path}/export.csv", "fin").content == csv_bytes

    # statements: a PDF per flat with the flat's amount on it
    pdf = api.get(f"{path}/statements/B1-03.pdf", "fin")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    amount = {f["flat_id"]: f["amount_dkk"] for f in run["flats"]}["B1-03"]
    assert "B1-03" in text
    assert amount.replace(".", ",") in text
    assert api.get(f"{path}/statements/B1-99.pdf", "fin").status_code == 404


def draft_b1(api: Api) -> dict[str, Any]:
    """A new draft for B1 2026-01; once a run is approved for it, a new run is a correction."""
    response = api.call("POST", RUNS, "fin", json=SETTLE)
    if response.status_code == 409:
        found = re.search(r"kørsel (\d+) er godkendt", detail(response))
        assert found, detail(response)
        body = {**SETTLE, "corrects_run_id": int(found[1]), "reason": "test"}
        response = api.call("POST", RUNS, "fin", json=body)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def test_a_draft_can_be_deleted(api: Api) -> None:
    run = draft_b1(api)
    path = f"{RUNS}/{run['run_id']}"
    assert api.call("DELETE", path, "fin").status_code == 204
    assert api.get(path, "fin").status_code == 404


def test_a_run_is_only_found_under_its_own_building(api: Api) -> None:
    run = draft_b1(api)
    response = api.get(f"/api/buildings/B2/settlements/{run['run_id']}", "fin")
    assert response.status_code == 404
    assert "B2" in detail(response)


def test_documents_are_refused_when_the_data_changed_since_the_run(api: Api) -> None:
    body = {**SETTLE, "period_start": "2026-01", "total_cost_dkk": "5000"}
    run = api.call("POST", "/api/buildings/B2/settlements", "fin", json=body).json()
    path = f"/api/buildings/B2/settlements/{run['run_id']}"
    fill_store(api.store, "B2", days=2, bump_c=1.5)  # late, corrected readings
    response = api.get(f"{path}/export.xlsx", "fin")
    assert response.status_code == 409
    assert "genskabes" in detail(response)
    assert api.get(f"{path}/export.csv", "fin").status_code == 200  # the record stands
    api.call("POST", f"{path}/check", "fin")
    assert api.call("POST", f"{path}/approve", "fin2").status_code == 409
    assert api.get(path, "fin").json()["state"] == "checked"


@pytest.mark.parametrize(
    ("change", "status", "says"),
    [
        pytest.param({"period_start": "2026-13"}, 422, "period_start", id="bad-month"),
        pytest.param({"period_end": "2025-12"}, 422, "slutter før", id="ends-first"),
        pytest.param({"total_cost_dkk": "10.001"}, 422, "decimal", id="three-decimals"),
        pytest.param({"total_cost_dkk": "-5"}, 422, "total_cost_dkk", id="negative"),
        pytest.param({"period_end": "2027-06"}, 422, "højst 12", id="too-long"),
        pytest.param({"colour": "red"}, 422, "colour", id="unknown-field"),
        pytest.param({"by": "KL"}, 422, "the logged-in user", id="typed-name"),
    ],
)
def test_bad_settlement_requests_are_explained(
    api: Api, change: dict[str, str], status: int, says: str
) -> None:
    response = api.call("POST", RUNS, "fin", json={**SETTLE, **change})
    assert response.status_code == status, response.text
    assert says in detail(response)


# -- the server -------------------------------------------------------------------------------


def plain_app(tmp_path: Path, store: SqliteStore, port: int = 0) -> ApiServer:
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    settings = ApiSettings(
        accounts_url=url,
        alerts_url=f"sqlite:///{tmp_path / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{tmp_path / 'runs.db'}",
    )
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    open_accounts(url).close()  # indeklima db upgrade
    return ApiServer(create_app(settings, store, registry), port=port)


def test_server_stops_cleanly_and_close_is_safe_twice(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "store.db") as store:
        server = plain_app(tmp_path, store)
        with server:
            assert server.running
            assert server.port > 0
            assert requests.get(server.url + "/api/health", timeout=10).status_code == 200
        assert not server.running
        server.close()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/api/health", timeout=5)


def test_the_api_refuses_to_start_on_an_old_accounts_schema(tmp_path: Path) -> None:
    settings = ApiSettings(accounts_url=f"sqlite:///{tmp_path / 'empty.db'}")
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    with SqliteStore(tmp_path / "store.db") as store:
        with pytest.raises(SchemaOutOfDate, match="indeklima db upgrade"):
            create_app(settings, store, registry)
        env = {"INDEKLIMA_API_ACCOUNTS_URL": settings.accounts_url}
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            args = ["api", "--registry", str(write_registry(tmp_path)), "--port", "1"]
            args += ["--sqlite", str(tmp_path / "store.db")]
            assert cli_main(args) == 2


def write_registry(folder: Path) -> Path:
    path = folder / "registry.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def test_an_unreachable_store_gives_503_not_a_crash(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    with plain_app(tmp_path, store) as server:
        store.close()
        health = requests.get(server.url + "/api/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["store"].startswith("utilgængelig / unavailable")


def test_an_unreachable_store_gives_503_to_a_logged_in_user(api: Api, tmp_path: Path) -> None:
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    settings = ApiSettings(
        alerts_url=f"sqlite:///{tmp_path / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{tmp_path / 'runs.db'}",
    )
    store = SqliteStore(tmp_path / "store.db")
    app = create_app(settings, store, registry, accounts=api.accounts)
    with ApiServer(app, port=free_port()) as server:
        store.close()
        climate = requests.get(
            server.url + "/api/buildings/B1/climate",
            headers={"Authorization": f"Bearer {api.token('tech')}"},
            timeout=10,
        )
        assert climate.status_code == 503
        assert "prøv igen" in detail(climate)


def test_a_taken_port_is_reported(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "store.db") as store, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = plain_app(tmp_path, store, port=taken.getsockname()[1])
        with pytest.raises(ApiServerError, match="port"):
            server.start()
        assert not server.running
        server.close()
