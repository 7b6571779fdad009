"""Issue 13: flat ids are text end to end.

Every id shape a Danish housing office uses (``0101``, ``1,10``, ``1/2 th``, ``Østergade 1/2
th``, ``Søndervang 3, st. tv.``) goes through the registry, the gateway's settings, a real gateway
publishing through a real Mosquitto into both stores (ingest storing only flats the gateway
serves), the stores' tags and erasure, the API and the pages by the flat's URL key, and the
settlement from the store through the real CLI and the API (PDF text read back with pypdf).
Hostile ids are refused with a reason naming the fix, or — where they are just text (``../x``,
``x' OR '1'='1``) — stay harmless: they never leave a folder, widen a query or a deletion.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pydantic
import pytest
import requests
from markupsafe import escape

from cloud.accounts import Accounts, Role, ScopeKind
from cloud.accounts.db import make_engine, seed_registry, upgrade
from cloud.accounts.passwords import Passwords
from cloud.analytics.alert_publish import alert_topic
from cloud.api import ApiServer, ApiSettings, create_app
from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest, check_message
from cloud.jobs.runner import run_jobs_once
from cloud.registry import Registry, flat_key
from cloud.servers import InfluxServer, MosquittoServer, free_port
from cloud.settlement.names import statement_filename
from cloud.settlement.store_io import WEATHER
from cloud.store.base import CLIMATE, Point, TimeSeriesStore
from cloud.store.influx import InfluxStore
from cloud.store.sqlite import SqliteStore
from edge.config import GatewayConfig
from edge.runner import run_gateway
from edge.sensors.ble.injected import REGISTRY as BLE_ADAPTERS
from edge.sensors.ble.injected import InjectedScanner
from edge.wire import (
    ID_PATTERN,
    Reading,
    ReadingsBatch,
    encode,
    flat_id_problem,
    invalid_ids,
    readings_topic,
)
from tests.accounts_kit import CHEAP, accounts_url
from tests.settle_files import REPO, pdf_text, read_out, settle, write_files

SHAPES = ["0101", "1,10", "1/2 th", "Østergade 1/2 th", "Søndervang 3, st. tv."]
"""Ids as Danish housing offices write them."""
HARMLESS = ["../x", "x' OR '1'='1"]
"""Hostile-looking but valid text: they must stay inside folders, queries and deletions."""
LONGEST = "Søndervang" + "æøå" * 18
"""64 characters, 3 × 18 of them Danish letters: the accounts database's VARCHAR(64) holds it."""
VALID = [*SHAPES, *HARMLESS, LONGEST]
REFUSED = [
    pytest.param("a\nb", "U+000A", id="line-break"),
    pytest.param("x" * 65, "65 tegn", id="65-characters"),
    pytest.param(
        "   ",
        "kun mellemrum; skriv fx 0101 / the flat id is empty or only spaces",
        id="only-spaces",
    ),
    pytest.param("", "tomt", id="empty"),
    pytest.param(" 0101", "begynder eller slutter med mellemrum", id="leading-space"),
    pytest.param("a\\b", "U+005C", id="backslash"),
    pytest.param("a\u200bb", "U+200B", id="zero-width-space"),
]
UNSERVED = "1/2 th"
"""In the registry, but its gateway does not serve it: ingest must refuse its readings."""
BUILDING = "B9"
JAN_START = datetime(2025, 12, 31, 23, tzinfo=UTC)  # 1 January 2026, 00:00 in Denmark
PASSWORD = "a long enough password"


def registry_toml(flats: list[str] = VALID, served: list[str] | None = None) -> str:
    """A registry as finance writes it; strings written as TOML basic strings (JSON escapes)."""
    served = [f for f in flats if f != UNSERVED] if served is None else served
    lines = ["[[buildings]]", f'id = "{BUILDING}"', 'name = "Østergården"', ""]
    for n, flat in enumerate(flats):
        lines += ["[[buildings.flats]]", f"id = {json.dumps(flat)}", f"area_m2 = {50 + n}.0", ""]
    lines += ["[[gateways]]", 'id = "gw-b9"', f'building = "{BUILDING}"']
    lines += [f"flats = [{', '.join(json.dumps(f) for f in served)}]"]
    return "\n".join(lines) + "\n"


def load_registry(tmp_path: Path, text: str) -> Registry:
    path = tmp_path / "registry.toml"
    path.write_text(text, encoding="utf-8")
    return Registry.load(path)


# -- the rule, the registry and the gateway's settings --------------------------------------------


@pytest.mark.parametrize("flat", VALID)
def test_the_registry_keeps_each_id_exactly_and_gives_it_a_url_key(
    tmp_path: Path, flat: str
) -> None:
    registry = load_registry(tmp_path, registry_toml([flat, "0102"], served=[flat]))
    ids = [f.id for f in registry.building(BUILDING).flats]
    assert ids == [flat, "0102"]
    assert registry.serves("gw-b9", BUILDING, flat)
    assert not registry.serves("gw-b9", BUILDING, "0102")
    key = registry.building(BUILDING).flats[0].key
    assert re.fullmatch(ID_PATTERN, key)  # a single, safe path segment
    assert (key == flat) == bool(re.fullmatch(ID_PATTERN, flat))  # URL-safe ids keep their URL
    found = registry.flat_by_key(key)
    assert found is not None and found[1].id == flat
    assert registry.flat_by_key(flat) is None or key == flat  # the raw id is not a second key


def test_keys_of_ids_that_slug_alike_differ() -> None:
    keys = {flat_key(f) for f in ["1/2 th", "1-2 th", "1 2 th", "1/2-th"]}
    assert len(keys) == 4
    assert flat_key("Østergade 1/2 th").startswith("Oestergade-1-2-th-")


def test_an_id_typed_decomposed_is_stored_composed(tmp_path: Path) -> None:
    decomposed = "Ra\u030adhusgade 1"  # a + combining ring (NFD): what macOS file names give
    registry = load_registry(tmp_path, registry_toml(["Rådhusgade 1"], served=[]))
    typed = load_registry(tmp_path, registry_toml([decomposed], served=[]))
    assert [f.id for f in typed.building(BUILDING).flats] == ["Rådhusgade 1"]
    assert typed.building(BUILDING).flats[0].key == registry.building(BUILDING).flats[0].key


@pytest.mark.parametrize(("flat", "reason"), REFUSED)
def test_the_registry_refuses_an_unusable_id_saying_why(
    tmp_path: Path, flat: str, reason: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        load_registry(tmp_path, registry_toml([flat], served=[]))
    [error] = caught.value.errors()
    assert reason in error["msg"]
    assert error["loc"] == ("buildings", 0, "flats", 0, "id")  # where it is
    why = flat_id_problem(flat)
    assert why is not None and " / " in why  # Danish / English


def test_two_flats_whose_keys_collide_are_refused(tmp_path: Path) -> None:
    clash = flat_key("Østergade 1/2 th")  # a literal id equal to another flat's key
    with pytest.raises(pydantic.ValidationError, match=r"samme URL-nøgle .* same URL key"):
        load_registry(tmp_path, registry_toml(["Østergade 1/2 th", clash], served=[]))


def _gateway(flat: str) -> GatewayConfig:
    sensor = {
        "id": "s1",
        "kind": "ruuvi",
        "building": BUILDING,
        "flat": flat,
        "room": "living",
        "address": "AA:BB:CC:DD:EE:01",
    }
    return GatewayConfig.parse({"gateway_id": "gw-b9", "sensors": [sensor]})


@pytest.mark.parametrize("flat", VALID)
def test_the_gateway_settings_take_each_id(flat: str) -> None:
    assert _gateway(flat).sensors[0].flat == flat


@pytest.mark.parametrize(("flat", "reason"), REFUSED)
def test_the_gateway_settings_refuse_an_unusable_id(flat: str, reason: str) -> None:
    with pytest.raises(ValueError, match=r"sensors\[0\]\.flat|flat"):
        _gateway(flat)


@pytest.mark.parametrize("flat", VALID)
def test_the_wire_accepts_each_id_and_refuses_the_unusable(flat: str) -> None:
    reading = Reading(1_767_222_000_000, BUILDING, flat, "living", "s1", {"temperature_c": 21.0})
    assert invalid_ids(reading) is None
    bad = Reading(1_767_222_000_000, BUILDING, "a\nb", "living", "s1", {"temperature_c": 21.0})
    assert "U+000A" in (invalid_ids(bad) or "")


@pytest.mark.parametrize(
    ("flat", "kind"),
    [
        *[pytest.param(f, "stored", id=f) for f in VALID if f != UNSERVED],
        pytest.param(UNSERVED, "unregistered", id="not-served-by-this-gateway"),
        pytest.param("0199", "unregistered", id="not-in-the-registry"),
        pytest.param("a\nb", "invalid", id="line-break-never-registrable"),
        pytest.param("x" * 65, "invalid", id="65-characters"),
        pytest.param("O\u0338", "unregistered", id="combining-mark-is-text"),
        pytest.param("Ra\u030adhusgade 1", "invalid", id="not-NFC-never-registrable"),
    ],
)
def test_ingest_stores_only_flats_the_gateway_serves(tmp_path: Path, flat: str, kind: str) -> None:
    registry = load_registry(tmp_path, registry_toml())
    reading = Reading(1_767_222_000_000, BUILDING, flat, "living", "s1", {"temperature_c": 21.0})
    batch = ReadingsBatch(v=1, gateway="gw-b9", batch_id="b1", readings=[reading])
    good, dead, gateway, _ = check_message(readings_topic("gw-b9"), encode(batch), registry, 0.0)
    assert gateway == "gw-b9"
    if kind == "stored":
        assert (good, dead) == ([reading], [])
    else:
        assert good == [] and [d.kind for d in dead] == [kind]
        assert repr(flat)[:20] in dead[0].reason


@pytest.mark.parametrize("flat", VALID)
def test_set_points_for_a_flat_take_its_id_as_text(flat: str) -> None:
    from cloud.api.routes.windows import SetpointsIn

    assert SetpointsIn.model_validate({"flat": flat, "values": {}}).flat == flat
    with pytest.raises(pydantic.ValidationError, match="U\\+000A"):
        SetpointsIn.model_validate({"flat": "a\nb", "values": {}})


# -- a real gateway, a real Mosquitto, ingest and both stores -------------------------------------

RUUVI_DF5 = bytes.fromhex("0512FC5394C37C0004FFFC040CAC364200CD")
"""docs.ruuvi.com data format 5, test vector "valid", without its MAC (the last 6 bytes)."""


def _mac(n: int) -> str:
    return f"CB:B8:33:4C:88:{n:02X}"


@pytest.fixture(params=["sqlite", "influx"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    made: TimeSeriesStore
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "store.sqlite")
    else:
        server: InfluxServer = request.getfixturevalue("influx_module")
        made = InfluxStore(server.url, f"ids_{int(time.time() * 1000)}")
    with closing(made):
        yield made


@pytest.mark.servers
def test_a_gateway_publishes_each_id_through_mosquitto_into_the_store(
    tmp_path: Path, mosquitto: MosquittoServer, any_store: TimeSeriesStore
) -> None:
    registry = load_registry(tmp_path, registry_toml())
    sensors = [
        {
            "id": f"s{n}",
            "kind": "ruuvi",
            "building": BUILDING,
            "flat": flat,
            "room": "living",
            "address": _mac(n),
        }
        for n, flat in enumerate(VALID)
    ]
    config = GatewayConfig.parse(
        {
            "gateway_id": "gw-b9",
            "mqtt": {"url": mosquitto.url},
            "outbox": {"path": str(tmp_path / "outbox.sqlite"), "batch_max_age_s": 0.1},
            "sensors": sensors,
        }
    )
    served = [f for f in VALID if f != UNSERVED]
    with (
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        Ingest(any_store, registry, dead, mqtt_url=mosquitto.url, client_id="ids-ingest"),
    ):

        async def scenario() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(
                run_gateway(config, stop, ble_backend=InjectedScanner, ble_adapter="ids")
            )
            adapter = BLE_ADAPTERS.get("ids")
            deadline = time.monotonic() + 30
            while adapter.running == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            for n in range(len(VALID)):
                mac = _mac(n)
                payload = RUUVI_DF5 + bytes.fromhex(mac.replace(":", ""))
                adapter.push(mac, -60, {0x0499: payload}, {})
            while time.monotonic() < deadline and (
                any_store.count(CLIMATE) < len(served) or dead.count() < 1
            ):
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # acks come back; nothing more may arrive
            stop.set()
            await task

        try:
            asyncio.run(scenario())
        finally:
            BLE_ADAPTERS.remove("ids")
        letters = dead.all()
    everything = any_store.query(
        CLIMATE, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    assert sorted(everything["flat"]) == sorted(served)  # exactly the served flats, ids intact
    assert everything["temperature_c"].round(2).tolist() == [24.3] * len(served)
    assert [(d.kind, d.gateway) for d in letters] == [("unregistered", "gw-b9")]
    assert repr(UNSERVED) in letters[0].reason

    for flat in served:
        one = any_store.query(
            CLIMATE,
            datetime(2000, 1, 1, tzinfo=UTC),
            datetime(2100, 1, 1, tzinfo=UTC),
            where={"building": BUILDING, "flat": flat},
        )
        assert one["flat"].tolist() == [flat]
        assert any_store.count(CLIMATE, where={"flat": flat}) == 1


def _fill(store: TimeSeriesStore, flats: list[str], days: int = 31) -> None:
    """Hourly climate for each flat from 1 January 2026 (local), 20 + n °C, and weather."""
    points = []
    for hour in range(days * 24):
        ns = int((JAN_START + timedelta(hours=hour)).timestamp()) * 10**9
        for n, flat in enumerate(flats):
            tags = {"building": BUILDING, "flat": flat, "room": "living", "sensor": f"s{n}"}
            fields = {"temperature_c": 20.0 + n % 4, "humidity_pct": 45.0, "co2_ppm": 700.0}
            points.append(Point(CLIMATE, tags, fields, ns))
        points.append(Point(WEATHER, {"building": BUILDING}, {"temperature_c": 1.0}, ns))
    store.write(points)


@pytest.mark.servers
@pytest.mark.parametrize("victim", [*HARMLESS, "Østergade 1/2 th", "x", "1"])
def test_a_hostile_or_similar_id_never_widens_a_query_or_a_deletion(
    any_store: TimeSeriesStore, victim: str
) -> None:
    flats = [*VALID, "x", "1"]
    _fill(any_store, flats, days=1)
    before = {f: any_store.count(CLIMATE, where={"flat": f}) for f in flats}
    assert set(before.values()) == {24}
    any_store.delete_flat(BUILDING, victim, JAN_START, JAN_START + timedelta(days=1))
    after = {f: any_store.count(CLIMATE, where={"flat": f}) for f in flats}
    assert after == {**before, victim: 0}
    assert any_store.count(WEATHER) == 24  # another measurement, untouched
    # ids that look like a query: each finds its own points only
    frame = any_store.query(
        CLIMATE,
        JAN_START,
        JAN_START + timedelta(days=1),
        where={"building": BUILDING, "flat": "x' OR '1'='1"},
    )
    assert set(frame["flat"]) == (set() if victim == "x' OR '1'='1" else {"x' OR '1'='1"})


def test_the_jobs_keep_each_flat_apart(tmp_path: Path) -> None:
    """Mould risk is computed per ``flat/room``: a flat id holding ``/`` (``1/2 th``) must not
    be split into flat ``1`` and room ``2 th/living``. Only the humid flat gets an alert."""
    registry = load_registry(tmp_path, registry_toml())
    humid = "1/2 th"
    points = []
    for hour in range(48):
        ns = int((JAN_START + timedelta(hours=hour)).timestamp()) * 10**9
        for n, flat in enumerate(VALID):
            tags = {"building": BUILDING, "flat": flat, "room": "living", "sensor": f"s{n}"}
            rh = 85.0 if flat == humid else 40.0
            points.append(Point(CLIMATE, tags, {"temperature_c": 20.0, "humidity_pct": rh}, ns))
        points.append(Point(WEATHER, {"building": BUILDING}, {"temperature_c": -5.0}, ns))
    with SqliteStore(tmp_path / "store.sqlite") as store:
        store.write(points)
        summary = run_jobs_once(store, registry, tmp_path / "state", JAN_START + timedelta(days=2))
        mould = store.query(
            "mould", JAN_START, JAN_START + timedelta(days=2), where={"building": BUILDING}
        )
    assert sorted(set(mould["flat"])) == sorted(VALID)
    assert set(mould["room"]) == {"living"}
    assert summary.mould_alert_flats == [humid]
    topic = alert_topic(BUILDING, humid)
    assert topic == f"indeklima/v1/alerts/{BUILDING}/{flat_key(humid)}"  # one level, no "/"
    assert not set("+#") & set(alert_topic(BUILDING, "x' OR '1'='1"))


# -- the settlement from the store, through the real CLI -----------------------------------------


@pytest.mark.servers
def test_the_cli_settles_every_id_from_the_store_with_pdfs_naming_them(
    tmp_path: Path, any_store: TimeSeriesStore
) -> None:
    (tmp_path / "registry.toml").write_text(registry_toml(), encoding="utf-8")
    _fill(any_store, VALID)
    if isinstance(any_store, SqliteStore):
        source = ["--sqlite", str(tmp_path / "store.sqlite")]
    else:
        assert isinstance(any_store, InfluxStore)
        source = ["--influx-url", any_store.url, "--influx-db", any_store.database]
    work = tmp_path / "work"
    work.mkdir()
    out, pdfs = work / "out.csv", work / "pdf"
    args = [sys.executable, "-m", "cloud.cli", "settle", "--building", BUILDING]
    args += ["--registry", str(tmp_path / "registry.toml"), *source, "--total-cost", "100.000,00"]
    args += ["--period", "2026-01", "--out", str(out), "--pdf-dir", str(pdfs)]
    args += ["--statement-date", "2026-03-01"]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = read_out(out)
    assert sorted(r["flat_id"] for r in rows) == sorted(VALID)
    assert {r["coverage_pct"] for r in rows} == {"100,0"}  # the store's tags matched every id
    assert sorted(p.name for p in pdfs.iterdir()) == sorted(
        statement_filename(BUILDING, f) for f in VALID
    )
    assert not (tmp_path / "x").exists() and not (work / "x").exists()  # "../x" stayed inside
    for flat in VALID:
        text = pdf_text(pdfs / statement_filename(BUILDING, flat))
        assert flat in text, text[:400]
        assert "2026-01-01 til 2026-01-31" in text


@pytest.mark.parametrize(
    ("flat", "reason"),
    [("x" * 65, "65 tegn"), ("a\u200bb", "U+200B"), ("a\\b", "U+005C")],
    ids=["65-characters", "zero-width-space", "backslash"],
)
def test_the_cli_refuses_an_unusable_id_in_the_flats_file(
    tmp_path: Path, flat: str, reason: str
) -> None:
    files = write_files(tmp_path, 2026, 1, {flat: 21.0, "0102": 22.0})
    done = settle(files, tmp_path / "out.csv", "2026-01")
    assert done.returncode != 0
    assert reason in done.stderr and "flats.csv linje/line 2" in done.stderr, done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_an_id_decomposed_in_one_file_matches_the_other(tmp_path: Path) -> None:
    files = write_files(tmp_path, 2026, 1, {"Rådhusgade 1": 21.0, "0102": 22.0})
    text = files.climate.read_text(encoding="utf-8-sig")
    files.climate.write_text(text.replace("Rådhusgade", "Ra\u030adhusgade"), encoding="utf-8")
    done = settle(files, tmp_path / "out.csv", "2026-01")
    assert done.returncode == 0, done.stderr
    rows = {r["flat_id"]: r["coverage_pct"] for r in read_out(tmp_path / "out.csv")}
    assert rows == {"Rådhusgade 1": "100,0", "0102": "100,0"}


def test_the_users_command_links_a_resident_to_a_text_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cloud.cli import main as cli_main

    db_url = f"sqlite:///{tmp_path / 'accounts.db'}"
    (tmp_path / "registry.toml").write_text(registry_toml(), encoding="utf-8")
    upgrade_args = ["db", "upgrade", "--db-url", db_url, "--registry"]
    assert cli_main([*upgrade_args, str(tmp_path / "registry.toml")]) == 0
    typed = "O\u0338stergade 1/2 th"  # not the registry's Ø: a different flat, refused
    for flat, code in ((typed, 2), ("Søndervang 3, st. tv.", 0), ("Sønder" + "vang 3", 2)):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        add = ["users", "add", f"r{code}{len(flat)}", "--role", "resident", "--flat", flat]
        assert cli_main([*add, "--password-stdin", "--db-url", db_url]) == code
    capsys.readouterr()
    assert cli_main(["users", "list", "--db-url", db_url]) == 0
    assert "flat:Søndervang 3, st. tv." in capsys.readouterr().out
    decomposed = "Ra\u030adhusgade 1"
    (tmp_path / "more.toml").write_text(registry_toml(["Rådhusgade 1"], served=[]), "utf-8")
    assert (
        cli_main(["db", "seed", "--db-url", db_url, "--registry", str(tmp_path / "more.toml")]) == 0
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    add = ["users", "add", "nfd", "--role", "resident", "--flat", decomposed, "--password-stdin"]
    assert cli_main([*add, "--db-url", db_url]) == 0  # typed decomposed, stored composed
    capsys.readouterr()
    assert cli_main(["users", "list", "--db-url", db_url]) == 0
    assert "flat:Rådhusgade 1" in capsys.readouterr().out


# -- the API and the pages, by the flat's key ------------------------------------------------------


@dataclass
class Site:
    url: str
    store: SqliteStore
    tokens: dict[str, str]
    residents: dict[str, str]
    """flat id → the resident's username."""

    def token(self, user: str) -> str:
        if user not in self.tokens:
            answer = requests.post(
                self.url + "/api/token",
                data={"username": user, "password": PASSWORD},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            self.tokens[user] = answer.json()["access_token"]
        return self.tokens[user]

    def call(self, method: str, path: str, user: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return requests.request(method, self.url + path, headers=headers, timeout=120, **kwargs)  # type: ignore[arg-type]

    def page(self, path: str, user: str) -> requests.Response:
        """A web page with the same session in its cookie (as after logging in at /login)."""
        cookie = {"Cookie": f"indeklima_session={self.token(user)}"}
        return requests.get(self.url + path, headers=cookie, timeout=60, allow_redirects=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp(f"ids-{request.param}")
    url = accounts_url(request, folder, "ids")
    registry = load_registry(folder, registry_toml())
    engine = make_engine(url)
    upgrade(engine)
    seed_registry(engine, registry, organisation="ORG9")  # TEXT / VARCHAR(64) columns
    accounts = Accounts(engine, passwords=Passwords(CHEAP))
    for name in ("fin", "fin2"):
        accounts.create_user(name, Role.FINANCE, PASSWORD, display_name=name)
        accounts.assign(name, ScopeKind.BUILDING, BUILDING)
    accounts.create_user("tech", Role.TECHNICIAN, PASSWORD, display_name="Tekniker")
    accounts.assign("tech", ScopeKind.BUILDING, BUILDING)
    residents = {}
    for n, flat in enumerate(VALID):
        residents[flat] = f"res{n}"
        accounts.create_user(f"res{n}", Role.RESIDENT, PASSWORD, display_name=f"Beboer {flat}")
        accounts.add_resident(f"res{n}", flat, since=JAN_START)
    settings = ApiSettings(
        accounts_url=url,
        alerts_url=f"sqlite:///{folder / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{folder / 'runs.db'}",
    )
    with SqliteStore(folder / "store.db") as store:
        _fill(store, VALID)
        app = create_app(settings, store, registry, accounts=accounts)
        with ApiServer(app, port=free_port()) as server:
            yield Site(server.url, store, {}, residents)
    accounts.close()


@pytest.mark.servers
@pytest.mark.parametrize("flat", VALID)
def test_a_resident_sees_their_own_flat_by_its_key_and_no_other(site: Site, flat: str) -> None:
    user = site.residents[flat]
    mine = site.call("GET", "/api/flats", user).json()
    assert [(f["id"], f["key"], f["building"]) for f in mine] == [(flat, flat_key(flat), BUILDING)]
    key = mine[0]["key"]
    me = site.call("GET", "/api/me", user).json()
    assert me["flats"] == [{"building": BUILDING, "flat": flat, "key": key}]

    monthly = site.call("GET", f"/api/flats/{key}/monthly", user, params={"month": "2026-01"})
    assert monthly.status_code == 200, monthly.text
    assert monthly.json()["flat"] == flat
    series = site.call(
        "GET",
        f"/api/buildings/{BUILDING}/flats/{key}/climate",
        user,
        params={"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"},
    )
    assert series.status_code == 200, series.text
    assert series.json()["flat"] == flat and series.json()["rooms"][0]["time_s"]
    own = site.call(
        "GET",
        f"/api/flats/{key}/climate",
        user,
        params={"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"},
    )
    assert own.status_code == 200, own.text
    assert own.content == series.content  # the resident's route answers as the building's

    page = site.page(f"/flats/{key}", user)
    assert page.status_code == 200, page.text[:300]
    assert str(escape(flat)) in page.text  # the name as it is, escaped for HTML
    for other in VALID:
        if other == flat:
            continue
        theirs = flat_key(other)
        denied = site.call("GET", f"/api/flats/{theirs}/monthly", user)
        assert denied.status_code == 404, (other, denied.text)
        assert site.call("GET", f"/api/flats/{theirs}/consent", user).status_code == 404
        assert site.page(f"/flats/{theirs}", user).status_code == 404


@pytest.mark.servers
@pytest.mark.parametrize(
    "path",
    [
        "/api/flats/no-such-flat/monthly",
        "/api/flats/Oestergade-1-2-th-00000000/monthly",  # a well-formed key no flat has
        "/api/flats/%C3%98stergade%201%2F2%20th/monthly",  # the raw id is not a key
        "/api/flats/0101%2F../monthly",
    ],
)
def test_a_key_no_flat_has_is_404_as_an_unknown_flat(site: Site, path: str) -> None:
    for user in ("res0", "tech"):
        answer = site.call("GET", path, user)
        assert answer.status_code in (404, 422), answer.text
        assert answer.status_code == 404 or "pattern" in answer.text


@pytest.mark.servers
@pytest.mark.parametrize("user", ["res1", "tech"])
@pytest.mark.parametrize("path", ["/flats/1,10", "/flats/no-such-flat", "/flats/%2E%2E%2Fx"])
def test_a_page_for_a_key_no_flat_has_is_404(site: Site, user: str, path: str) -> None:
    """``1,10`` is res1's own flat's id, but not its key: ids are not a second way in."""
    assert site.residents["1,10"] == "res1"
    assert site.page(path, user).status_code == 404


@pytest.mark.servers
def test_staff_list_both_id_and_key(site: Site) -> None:
    building = site.call("GET", f"/api/buildings/{BUILDING}", "tech").json()
    assert [(f["id"], f["key"]) for f in building["flats"]] == [(f, flat_key(f)) for f in VALID]
    estate = site.page("/", "tech")
    assert estate.status_code == 200
    for flat in VALID:
        assert f'href="/flats/{quote(flat_key(flat))}"' in estate.text
        staff_page = site.page(f"/flats/{flat_key(flat)}", "tech")
        assert staff_page.status_code == 200, staff_page.text[:300]
        assert str(escape(flat)) in staff_page.text


@pytest.mark.servers
def test_the_api_settles_every_id_with_statements_by_key(site: Site) -> None:
    made = site.call(
        "POST",
        f"/api/buildings/{BUILDING}/settlements",
        "fin",
        json={
            "period_start": "2026-01",
            "period_end": "2026-01",
            "total_cost_dkk": "100.000,00",
            "statement_date": "2026-03-01",
        },
    )
    assert made.status_code == 201, made.text
    run = made.json()
    assert sorted((r["flat_id"], r["key"]) for r in run["flats"]) == sorted(
        (f, flat_key(f)) for f in VALID
    )
    assert {r["coverage_pct"] for r in run["flats"]} == {100.0}
    template = run["links"]["statement_pdf"]
    for flat in VALID:
        pdf = site.call("GET", template.replace("{key}", flat_key(flat))[len(site.url) :], "fin")
        assert pdf.status_code == 200, pdf.text
        disposition = pdf.headers["content-disposition"]
        assert "/" not in disposition.partition("filename=")[2].strip('"')
        text = pdf_text(pdf.content)
        assert flat in text and "2026-01-01 til 2026-01-31" in text
    unknown = site.call("GET", template.replace("{key}", "no-such-flat")[len(site.url) :], "fin")
    assert unknown.status_code == 404

    path = f"/api/buildings/{BUILDING}/settlements/{run['run_id']}"
    assert site.call("POST", f"{path}/check", "fin").status_code == 200
    approved = site.call("POST", f"{path}/approve", "fin2")
    assert approved.status_code == 200, approved.text
    for flat in ("Østergade 1/2 th", "x' OR '1'='1", LONGEST):  # the resident's own page
        mine = site.page(f"/heating/statements/{run['run_id']}.pdf", site.residents[flat])
        assert mine.status_code == 200, mine.text[:300]
        assert "/" not in mine.headers["content-disposition"].partition("filename=")[2]
        words = pdf_text(mine.content)
        assert flat in words and "2026-01-01 til 2026-01-31" in words
