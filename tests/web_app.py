"""A complete app for the web pages' tests: the API app with the pages, on a real uvicorn on a
loopback port, over a SQLite store with readings, a real accounts database (issue 9's
migrations) and the people of each role."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cloud.accounts import Accounts, Role, ScopeKind
from cloud.accounts.db import make_engine, seed_registry, upgrade
from cloud.accounts.passwords import Passwords
from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity
from cloud.api import ApiServer, ApiSettings, create_app
from cloud.jobs.mould_job import MOULD_MEASUREMENT
from cloud.jobs.runner import COMFORT_MEASUREMENT
from cloud.registry import Registry
from cloud.settlement.store_io import WEATHER
from cloud.store.base import CLIMATE, Point
from cloud.store.rollup import refresh_rollups
from cloud.store.sqlite import SqliteStore
from cloud.web.data import month_start
from tests.accounts_kit import CHEAP

PASSWORD: Final = "korrekt-hest-batteri"
REGISTRY: Final = """
[[buildings]]
id = "B1"
name = "Tranehaven blok 1"
heating_budget_dkk_per_month = 3000.0

[[buildings.flats]]
id = "B1-01"
area_m2 = 60.0
aconto_dkk = 900.0

[[buildings.flats]]
id = "B1-02"
area_m2 = 75.0

[[buildings]]
id = "B2"
name = "Tranehaven blok 2"

[[buildings.flats]]
id = "B2-01"
area_m2 = 50.0

[[gateways]]
id = "gw-b1"
building = "B1"
flats = ["B1-01", "B1-02"]
"""
SETTLE_MONTH: Final = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=1)  # local 2026-01-01
ROOMS: Final = {"B1-01": ("stue", "sovevaerelse"), "B1-02": ("stue",), "B2-01": ("stue",)}


def _readings(
    building: str, flat: str, start: datetime, end: datetime, step: timedelta, humid: bool
) -> list[Point]:
    points = []
    t = start
    i = 0
    while t < end:
        ns = int(t.timestamp()) * 10**9
        for n, room in enumerate(ROOMS[flat]):
            fields = {
                "temperature_c": 21.0 + 0.5 * n + 0.3 * ((i % 12) / 12),
                "humidity_pct": (72.0 if humid and room == "sovevaerelse" else 45.0) + (i % 5),
                "co2_ppm": 650.0 + 40 * (i % 10) + 300 * n,
            }
            if n == 0:
                fields["battery_pct"] = 87.0
            tags = {"building": building, "flat": flat, "room": room, "sensor": f"{flat}-{room}"}
            points.append(Point(CLIMATE, tags, fields, ns))
        t += step
        i += 1
    return points


def _weather(building: str, start: datetime, end: datetime) -> list[Point]:
    hours = int((end - start) / timedelta(hours=1))
    return [
        Point(
            WEATHER,
            {"building": building},
            {"temperature_c": 1.0},
            int((start + timedelta(hours=h)).timestamp()) * 10**9,
        )
        for h in range(hours)
    ]


def fill(store: SqliteStore, now: datetime) -> None:
    """January 2026 hourly (to settle), this month hourly (the running estimate), the last two
    days every 5 minutes (now and the charts), the month's index, mould, and rollups."""
    jan_end = SETTLE_MONTH + timedelta(days=31)
    this_month = month_start(now)
    recent = now - timedelta(days=2)
    for building, flats in (("B1", ("B1-01", "B1-02")), ("B2", ("B2-01",))):
        points: list[Point] = []
        for flat in flats:
            humid = flat == "B1-01"
            hour = timedelta(hours=1)
            points += _readings(building, flat, SETTLE_MONTH, jan_end, hour, humid)
            points += _readings(building, flat, min(this_month, recent), recent, hour, humid)
            points += _readings(building, flat, recent, now, timedelta(minutes=5), humid)
            stamp = int(this_month.timestamp()) * 10**9
            light = "yellow" if humid else "green"
            shares = {"share_level_1": 0.7, "share_level_2": 0.2, "share_level_3": 0.1}
            fields = {"month": f"{now:%Y-%m}", "light": light, "intervals": 500, **shares}
            fields["share_level_4"] = 0.0
            points.append(
                Point(COMFORT_MEASUREMENT, {"building": building, "flat": flat}, fields, stamp)
            )
            for room in ROOMS[flat]:
                mould = {"mould_index": 1.4 if humid else 0.0, "surface_rh_pct": 84.0}
                mould["surface_temperature_c"] = 13.0
                tags = {"building": building, "flat": flat, "room": room}
                ns = int((now - timedelta(hours=1)).timestamp()) * 10**9
                points.append(Point(MOULD_MEASUREMENT, tags, mould, ns))
        points += _weather(building, SETTLE_MONTH, jan_end)
        points += _weather(building, min(this_month, recent), now)
        store.write(points)
        refresh_rollups(store, building, now - timedelta(days=40), now)


@dataclass
class WebApp:
    url: str
    folder: Path
    accounts: Accounts
    alerts: AlertStore
    store: SqliteStore


USERS: Final = (
    ("admin", Role.ADMIN, None),
    ("technician", Role.TECHNICIAN, "B1"),
    ("technician2", Role.TECHNICIAN, "B1"),
    ("finance", Role.FINANCE, "B1"),
    ("finance2", Role.FINANCE, "B1"),
)


def seed_people(accounts: Accounts) -> None:
    for name, role, building in USERS:
        accounts.create_user(name, role, PASSWORD, display_name=name.capitalize())
        if building:
            accounts.assign(name, ScopeKind.BUILDING, building)
    for flat in ("B1-01", "B1-02", "B2-01"):
        name = f"resident-{flat.lower()}"
        accounts.create_user(name, Role.RESIDENT, PASSWORD, display_name=f"Beboer {flat}")
        accounts.add_resident(name, flat, since=SETTLE_MONTH)  # before all the readings


def web_app(folder: Path, app_kwargs: dict[str, Any] | None = None) -> Iterator[WebApp]:
    """Start everything; yields while it serves; stops it after. `app_kwargs` go to
    `create_app` (e.g. window control and its set point book)."""
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    engine = make_engine(f"sqlite:///{folder / 'accounts.db'}")
    upgrade(engine)
    seed_registry(engine, registry, organisation="ORG1")
    accounts = Accounts(engine, passwords=Passwords(CHEAP))
    seed_people(accounts)
    alerts_url = f"sqlite:///{folder / 'alerts.sqlite'}"
    now = datetime.now(UTC)
    with AlertStore(alerts_url) as alerts:
        alerts.save(
            [
                Alert(
                    "B1",
                    "B1-01",
                    AlertKind.SURFACE_RH,
                    Severity.WARN,
                    AlertState.NEW,
                    84.0,
                    now - timedelta(hours=3),
                    now - timedelta(hours=1),
                ),
            ]
        )
    settings = ApiSettings(
        accounts_url=f"sqlite:///{folder / 'accounts.db'}",
        alerts_url=alerts_url,
        runs_url=f"sqlite:///{folder / 'runs.db'}",
    )
    with SqliteStore(folder / "store.db") as store, AlertStore(alerts_url) as alert_view:
        fill(store, now)
        app = create_app(settings, store, registry, accounts=accounts, **(app_kwargs or {}))
        with ApiServer(app, port=0) as server:
            yield WebApp(server.url, folder, accounts, alert_view, store)
    engine.dispose()
