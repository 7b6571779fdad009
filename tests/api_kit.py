"""The API on real stores for the tests: a SQLite time-series store with a month of readings,
an accounts database (SQLite or a private PostgreSQL) with one user per role and scope, and a
real uvicorn on a loopback port. Users log in through ``POST /api/token`` like anyone else."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from cloud.accounts import Accounts, LoginPolicy, Role, ScopeKind
from cloud.accounts.db import make_engine, seed_registry, upgrade
from cloud.accounts.passwords import Passwords
from cloud.api import ApiServer, ApiSettings, create_app
from cloud.registry import Registry
from cloud.servers import free_port
from cloud.settlement.store_io import WEATHER
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore
from tests.accounts_kit import CHEAP

JAN = datetime(2025, 12, 31, 23, tzinfo=UTC)  # local midnight: the Danish January starts here
BUDGET_DKK = Decimal("3000.00")
PASSWORD = "a long enough password"

REGISTRY = f"""
[[buildings]]
id = "B1"
name = "Tranehaven blok 1"
heating_budget_dkk_per_month = {BUDGET_DKK}

[[buildings.flats]]
id = "B1-01"
area_m2 = 60.0
aconto_dkk = 900.0

[[buildings.flats]]
id = "B1-02"
area_m2 = 60.0
position = ["gable"]
position_factor = 0.9

[[buildings.flats]]
id = "B1-03"
area_m2 = 75.0

[[buildings]]
id = "B2"
name = "Tranehaven blok 2"

[[buildings.flats]]
id = "B2-01"
area_m2 = 50.0

[[buildings.flats]]
id = "B2-02"
area_m2 = 50.0

[[gateways]]
id = "gw-b1"
building = "B1"
flats = ["B1-01", "B1-02", "B1-03"]
"""
INDOOR_C = {"B1-01": 21.0, "B1-02": 21.0, "B1-03": 24.0, "B2-01": 20.0, "B2-02": 22.0}

# username: (role, scopes); a scope is ("flat"|"building"|"organisation", id)
USERS: dict[str, tuple[Role, tuple[tuple[str, str], ...]]] = {
    "admin": (Role.ADMIN, ()),
    "tech": (Role.TECHNICIAN, (("building", "B1"), ("building", "B2"))),
    "fin": (Role.FINANCE, (("organisation", "ORG1"), ("building", "B2"))),
    "fin2": (Role.FINANCE, (("organisation", "ORG1"), ("building", "B2"))),
    "tech1": (Role.TECHNICIAN, (("building", "B1"),)),
    "fin1": (Role.FINANCE, (("organisation", "ORG1"),)),
    "res1": (Role.RESIDENT, (("flat", "B1-01"),)),
    "res2": (Role.RESIDENT, (("flat", "B1-02"),)),
    "res3": (Role.RESIDENT, (("flat", "B2-01"),)),
}
CONSENTING = ("res1", "res3")
"""Residents who let staff see their flat's details (B1-01, B2-01); B1-02 does not."""


def fill_store(
    store: SqliteStore,
    building: str,
    days: int = 31,
    bump_c: float = 0.0,
    start: datetime = JAN,
) -> None:
    """Hourly climate per flat at its constant `INDOOR_C` (+ bump) and 1 °C outdoors."""
    points = []
    for hour in range(days * 24):
        ns = int((start + timedelta(hours=hour)).timestamp()) * 10**9
        for flat, temp in INDOOR_C.items():
            if flat.startswith(building):
                tags = {"building": building, "flat": flat, "room": "living", "sensor": flat}
                fields = {"temperature_c": temp + bump_c, "humidity_pct": 45.0, "co2_ppm": 700.0}
                points.append(Point(CLIMATE, tags, fields, ns))
        points.append(Point(WEATHER, {"building": building}, {"temperature_c": 1.0}, ns))
    store.write(points)


def seed_people(accounts: Accounts, registry: Registry) -> None:
    b1 = Registry.model_validate({"buildings": [registry.building("B1").model_dump()]})
    b2 = Registry.model_validate({"buildings": [registry.building("B2").model_dump()]})
    seed_registry(accounts.engine, b1, organisation="ORG1")
    seed_registry(accounts.engine, b2, organisation="ORG2")
    for username, (role, scopes) in USERS.items():
        accounts.create_user(username, role, PASSWORD, display_name=username.title())
        for kind, scope_id in scopes:
            if kind == "flat":
                accounts.add_resident(username, scope_id, since=JAN)
            else:
                accounts.assign(username, ScopeKind(kind), scope_id)


@dataclass
class Api:
    url: str
    folder: Path
    store_path: Path
    registry_path: Path
    alerts_url: str
    store: SqliteStore
    accounts: Accounts
    tokens: dict[str, str] = field(default_factory=dict)

    def login(self, username: str, password: str = PASSWORD) -> requests.Response:
        return requests.post(
            self.url + "/api/token",
            data={"username": username, "password": password},
            timeout=30,
        )

    def token(self, username: str) -> str:
        if username not in self.tokens:
            response = self.login(username)
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["access_token"]
        return self.tokens[username]

    def call(
        self, method: str, path: str, user: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def get(self, path: str, user: str | None = None, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, user, **kwargs)

    def fin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """As ``fin`` (finance of both buildings); approvals need another person (fin2)."""
        return self.call(method, path, "fin", **kwargs)


def open_people(url: str, registry: Registry) -> Accounts:
    engine = make_engine(url)
    upgrade(engine)
    accounts = Accounts(
        engine,
        policy=LoginPolicy(user_failures=5, address_failures=1000),
        passwords=Passwords(CHEAP),
    )
    seed_people(accounts, registry)
    return accounts


@contextmanager
def running_api(
    folder: Path, accounts_url: str, app_kwargs: dict[str, Any] | None = None, **settings: Any
) -> Iterator[Api]:
    registry_path = folder / "registry.toml"
    registry_path.write_text(REGISTRY, encoding="utf-8")
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    alerts_url = f"sqlite:///{folder / 'alerts.sqlite'}"
    api_settings = ApiSettings(
        accounts_url=accounts_url,
        alerts_url=alerts_url,
        runs_url=f"sqlite:///{folder / 'runs.db'}",
        **settings,
    )
    accounts = open_people(accounts_url, registry)
    with SqliteStore(folder / "store.db") as store:
        fill_store(store, "B1")
        fill_store(store, "B2")
        app = create_app(api_settings, store, registry, accounts=accounts, **(app_kwargs or {}))
        with ApiServer(app, port=free_port()) as server:
            api = Api(
                server.url, folder, folder / "store.db", registry_path, alerts_url, store, accounts
            )
            for resident in CONSENTING:
                response = api.call(
                    "PUT",
                    f"/api/flats/{USERS[resident][1][0][1]}/consent",
                    resident,
                    json={"staff_detail": True},
                )
                assert response.status_code == 200, response.text
            yield api
    accounts.close()
