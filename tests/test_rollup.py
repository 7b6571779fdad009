"""Hourly and daily rollups (cloud/store/rollup.py) and the resolution rule and series service
(cloud/analytics/climate_series.py), against the embedded SQLite store and a real InfluxDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pandas as pd
import pytest
import requests

from cloud.analytics.climate_series import (
    ClimateRangeError,
    Resolution,
    climate_series,
    pick_resolution,
)
from cloud.servers import InfluxServer
from cloud.store.base import CLIMATE, FieldValue, Point, TimeSeriesStore
from cloud.store.influx import InfluxStore
from cloud.store.rollup import (
    DAILY,
    HOURLY,
    LOCAL,
    daily_from_hourly,
    hour_ranges,
    local_day_bounds,
    refresh_rollups,
)
from cloud.store.sqlite import SqliteStore

pytestmark = pytest.mark.servers

T0 = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1_000


def reading(
    at: datetime, *, flat: str = "A", room: str = "stue", sensor: str = "s1", **fields: FieldValue
) -> Point:
    tags = {"building": "B1", "flat": flat, "room": room, "sensor": sensor}
    return Point(CLIMATE, tags, fields, ns(at))


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    made: TimeSeriesStore
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "store.sqlite")
    else:
        server: InfluxServer = request.getfixturevalue("influx_module")
        made = InfluxStore(server.url, f"rollup_{uuid.uuid4().hex[:12]}", gzip=False)
    yield made
    made.close()


def hourly(store: TimeSeriesStore) -> pd.DataFrame:
    return store.query(HOURLY, T0 - 48 * HOUR, T0 + 30 * 24 * HOUR)


def hourly_rows(store: TimeSeriesStore) -> dict[tuple[datetime, str], dict[str, Any]]:
    return {(r["time"], r["room"]): r for r in hourly(store).to_dict("records")}


# the resolution rule


@pytest.mark.parametrize(
    ("span", "resolution"),
    [
        (timedelta(hours=1), Resolution.RAW),
        (timedelta(days=1), Resolution.RAW),
        (timedelta(days=2), Resolution.RAW),
        (timedelta(days=2, seconds=1), Resolution.HOURLY),
        (timedelta(days=7), Resolution.HOURLY),
        (timedelta(days=31), Resolution.HOURLY),
        (timedelta(days=62), Resolution.HOURLY),
        (timedelta(days=62, seconds=1), Resolution.DAILY),
        (timedelta(days=365), Resolution.DAILY),
    ],
)
def test_the_resolution_follows_the_length_of_the_range(
    span: timedelta, resolution: Resolution
) -> None:
    assert pick_resolution(T0, T0 + span) is resolution


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        (datetime(2026, 1, 1), T0, "tidszone"),  # noqa: DTZ001 - naive on purpose
        (T0, T0, "før"),
        (T0, T0 - HOUR, "før"),
        (T0, T0 + timedelta(days=4000), "Højst"),
        (datetime(1, 1, 1, tzinfo=UTC), datetime(1, 6, 1, tzinfo=UTC), "mellem"),
        (T0, datetime(9999, 1, 1, tzinfo=UTC), "mellem"),
    ],
)
def test_a_range_it_will_not_serve_says_why(
    tmp_path: Path, start: datetime, end: datetime, says: str
) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as store, pytest.raises(ClimateRangeError, match=says):
        climate_series(store, "B1", "A", start, end)


def test_dirty_hours_close_together_are_rolled_in_one_range() -> None:
    hours = [T0, T0 + HOUR, T0 + 5 * HOUR, T0 + 40 * HOUR]
    assert hour_ranges(hours) == [(T0, T0 + 6 * HOUR), (T0 + 40 * HOUR, T0 + 41 * HOUR)]


# hourly rollups


def two_hours_of_readings() -> list[Point]:
    """Hour 0: stue from two sensors (T 20, 22 and 24; CO2 from one), bad T 18; hour 1: stue
    T 21; a reading in hour 2, which is not complete at T0 + 2h30."""
    return [
        reading(T0 + 5 * MIN, temperature_c=20.0, humidity_pct=40.0, co2_ppm=600.0),
        reading(T0 + 10 * MIN, sensor="s2", temperature_c=22.0, humidity_pct=50.0),
        reading(T0 + 15 * MIN, temperature_c=24.0, humidity_pct=45.0, co2_ppm=1000.0),
        reading(T0 + 20 * MIN, room="bad", sensor="s3", temperature_c=18.0, humidity_pct=70.0),
        reading(T0 + 65 * MIN, temperature_c=21.0, humidity_pct=41.0, co2_ppm=700.0),
        reading(T0 + 125 * MIN, temperature_c=30.0),
    ]


def test_hourly_rollups_have_mean_min_max_and_count_per_room(store: TimeSeriesStore) -> None:
    store.write(two_hours_of_readings())
    result = refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    assert (result.hours, result.hourly_points) == (2, 3)
    rows = hourly_rows(store)
    assert set(rows) == {(T0, "bad"), (T0, "stue"), (T0 + HOUR, "stue")}
    stue = rows[T0, "stue"]
    assert (stue["temperature_c_mean"], stue["temperature_c_min"]) == (22.0, 20.0)
    assert (stue["temperature_c_max"], stue["temperature_c_count"]) == (24.0, 3.0)
    assert (stue["humidity_pct_mean"], stue["humidity_pct_max"]) == (45.0, 50.0)
    assert (stue["co2_ppm_mean"], stue["co2_ppm_count"]) == (800.0, 2.0)
    bad = rows[T0, "bad"]
    assert (bad["temperature_c_mean"], bad["humidity_pct_min"]) == (18.0, 70.0)
    assert bad["co2_ppm_mean"] != bad["co2_ppm_mean"]  # NaN: the bathroom has no CO2 sensor
    assert rows[T0 + HOUR, "stue"]["temperature_c_max"] == 21.0


def test_running_again_writes_nothing_and_keeps_the_same_points(store: TimeSeriesStore) -> None:
    store.write(two_hours_of_readings())
    refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    before = (hourly(store), store.query(DAILY, T0 - 48 * HOUR, T0 + 48 * HOUR))
    again = refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    assert (again.hours, again.hourly_points, again.daily_points) == (0, 0, 0)
    assert hourly(store).equals(before[0])
    assert store.query(DAILY, T0 - 48 * HOUR, T0 + 48 * HOUR).equals(before[1])
    assert store.count(HOURLY) == 3


def test_the_next_hour_is_rolled_once_it_is_complete(store: TimeSeriesStore) -> None:
    store.write(two_hours_of_readings())
    refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    later = refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 3 * HOUR)
    assert (later.hours, later.hourly_points) == (1, 1)
    assert hourly(store)["temperature_c_mean"].tolist()[-1] == 30.0


def test_a_late_reading_re_rolls_its_hour_and_day_only(store: TimeSeriesStore) -> None:
    store.write(two_hours_of_readings())
    refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    store.write([reading(T0 + 30 * MIN, room="bad", sensor="s3", temperature_c=20.0)])  # late
    result = refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    assert (result.hours, result.hourly_points) == (1, 2)  # hour 0: both rooms re-rolled
    rows = hourly_rows(store)
    assert rows[T0, "bad"]["temperature_c_mean"] == 19.0
    assert rows[T0, "bad"]["temperature_c_count"] == 2.0
    day = store.query(DAILY, T0 - 24 * HOUR, T0 + 24 * HOUR, where={"room": "bad"})
    assert day["temperature_c_mean"].tolist() == [19.0]
    assert day["day"].tolist() == ["2026-01-05"]


def test_a_redelivered_reading_changes_nothing(store: TimeSeriesStore) -> None:
    points = two_hours_of_readings()
    store.write(points)
    refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN)
    store.write(points[:3])  # at-least-once delivery: the same keys again
    assert refresh_rollups(store, "B1", T0 - 24 * HOUR, T0 + 150 * MIN).hours == 0


def test_other_buildings_are_not_touched(store: TimeSeriesStore) -> None:
    store.write(two_hours_of_readings())
    assert refresh_rollups(store, "B2", T0 - 24 * HOUR, T0 + 150 * MIN).hours == 0
    assert store.count(HOURLY) == 0


# daily rollups on local days


@pytest.mark.parametrize(
    ("day", "hours", "midnight_utc"),
    [
        (date(2026, 1, 15), 24, datetime(2026, 1, 14, 23, tzinfo=UTC)),
        (date(2026, 3, 29), 23, datetime(2026, 3, 28, 23, tzinfo=UTC)),  # clocks forward
        (date(2026, 10, 25), 25, datetime(2026, 10, 24, 22, tzinfo=UTC)),  # clocks back
        (date(2026, 7, 1), 24, datetime(2026, 6, 30, 22, tzinfo=UTC)),
    ],
)
def test_a_daily_rollup_covers_the_local_day_across_dst(
    store: TimeSeriesStore, day: date, hours: int, midnight_utc: datetime
) -> None:
    start, end = local_day_bounds(day, day)
    assert (start, (end - start) // HOUR) == (midnight_utc, hours)
    # every 30 minutes from an hour before the local day to an hour after it: T = local hour
    points = []
    moment = start - HOUR
    while moment < end + HOUR:
        points.append(reading(moment, temperature_c=float(moment.astimezone(LOCAL).hour)))
        moment += 30 * MIN
    store.write(points)
    refresh_rollups(store, "B1", start - HOUR, end + HOUR)
    daily = store.query(DAILY, start - 24 * HOUR, end + 24 * HOUR)
    row = daily[daily["day"] == day.isoformat()].iloc[0]
    local_hours = [(start + i * 30 * MIN).astimezone(LOCAL).hour for i in range(2 * hours)]
    assert row["time"] == midnight_utc
    assert row["temperature_c_count"] == 2 * hours
    assert row["temperature_c_mean"] == round(sum(local_hours) / len(local_hours), 3)
    assert (row["temperature_c_min"], row["temperature_c_max"]) == (0.0, 23.0)
    assert sorted(daily["day"]) == sorted(
        {(start - HOUR).astimezone(LOCAL).date().isoformat(), day.isoformat(),
         end.astimezone(LOCAL).date().isoformat()}
    )  # fmt: skip


def test_the_daily_mean_weights_hours_by_their_readings() -> None:
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime([T0, T0 + HOUR], utc=True),
            "building": ["B1", "B1"],
            "flat": ["A", "A"],
            "room": ["stue", "stue"],
            "temperature_c_mean": [20.0, 23.0],
            "temperature_c_min": [19.0, 23.0],
            "temperature_c_max": [21.0, 23.0],
            "temperature_c_count": [2.0, 1.0],
        }
    )
    (point,) = daily_from_hourly(frame)
    assert point.fields["temperature_c_mean"] == 21.0  # (2·20 + 23) / 3, not (20 + 23) / 2
    assert point.fields["temperature_c_count"] == 3.0
    assert point.fields["day"] == "2026-01-05"


# the series service


def a_month_of_readings() -> list[Point]:
    """Every 5 minutes for 40 days: stue T = 20 + (hour of day)/10, CO2 700; bad T 18."""
    points = []
    for step in range(40 * 24 * 12):
        at = T0 + step * 5 * MIN
        points.append(reading(at, temperature_c=20.0 + at.hour / 10, co2_ppm=700.0))
        if step % 12 == 0:
            points.append(reading(at, room="bad", sensor="s3", temperature_c=18.0))
    return points


def test_the_series_reads_raw_hourly_or_daily_points(store: TimeSeriesStore) -> None:
    store.write(a_month_of_readings())
    refresh_rollups(store, "B1", T0, T0 + 40 * 24 * HOUR)
    day = climate_series(store, "B1", "A", T0 + 10 * HOUR, T0 + 34 * HOUR)
    assert (day.resolution, [r.room for r in day.rooms]) == (Resolution.RAW, ["bad", "stue"])
    stue = day.rooms[1]
    assert len(stue.time_s) == 24 * 12 and stue.time_s[0] == (T0 + 10 * HOUR).timestamp()
    assert stue.time[:2] == [T0 + 10 * HOUR, T0 + 10 * HOUR + 5 * MIN]
    assert stue.values["temperature_c_mean"][:2] == [21.0, 21.0]
    assert stue.values["co2_ppm_max"][0] == 700.0
    assert day.rooms[0].values["co2_ppm_mean"][0] is None

    month = climate_series(store, "B1", "A", T0 + 30 * MIN, T0 + 30 * 24 * HOUR)
    assert month.resolution is Resolution.HOURLY and month.start == T0
    stue = month.rooms[1]
    assert len(stue.time_s) == 30 * 24
    assert stue.values["temperature_c_mean"][:3] == [20.0, 20.1, 20.2]
    assert stue.values["temperature_c_max"][23] == 22.3

    span = climate_series(store, "B1", "A", T0, T0 + 100 * 24 * HOUR)
    assert span.resolution is Resolution.DAILY
    assert span.start == datetime(2026, 1, 4, 23, tzinfo=UTC)  # local midnight of 5 January
    stue = span.rooms[1]
    local = [datetime.fromtimestamp(t, LOCAL) for t in stue.time_s]
    assert [t.hour for t in local] == [0] * len(local)
    assert len(local) == 41  # the first and last local days are partial
    assert stue.values["temperature_c_min"][1:3] == [20.0, 20.0]
    assert stue.values["temperature_c_max"][1] == 22.3
    assert span.rooms[0].values["temperature_c_mean"][5] == 18.0


def test_a_flat_without_data_has_no_rooms(store: TimeSeriesStore) -> None:
    store.write(a_month_of_readings()[:100])
    for days in (1, 30, 365):
        assert climate_series(store, "B1", "nobody", T0, T0 + days * 24 * HOUR).rooms == []


# the endpoint (the flat's resident logs in; staff need consent: tests/test_api_access.py)

REGISTRY = {
    "buildings": [{"id": "B1", "flats": [{"id": "A", "area_m2": 60.0}]}],
    "gateways": [],
}
TOKEN: dict[str, str] = {}
SERVED: dict[str, SqliteStore] = {}
"""The store behind the module's API (to compare its answers with the service's)."""


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from cloud.accounts import Role
    from cloud.api import ApiServer, ApiSettings, create_app
    from cloud.registry import Registry
    from cloud.servers import free_port
    from tests.accounts_kit import open_accounts

    folder = tmp_path_factory.mktemp("series-api")
    registry = Registry.model_validate(REGISTRY)
    accounts = open_accounts(f"sqlite:///{folder / 'accounts.db'}", registry)
    accounts.create_user("resident-a", Role.RESIDENT, "a long enough password")
    accounts.add_resident("resident-a", "A", since=T0 - 24 * HOUR)  # lived there all along
    TOKEN["resident"], _ = accounts.login("resident-a", "a long enough password", "test")
    settings = ApiSettings(
        alerts_url=f"sqlite:///{folder / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{folder / 'runs.db'}",
    )
    with SqliteStore(folder / "store.sqlite") as store:
        store.write(a_month_of_readings())
        refresh_rollups(store, "B1", T0, T0 + 40 * 24 * HOUR)
        SERVED["store"] = store
        app = create_app(settings, store, registry, accounts=accounts)
        with ApiServer(app, port=free_port()) as server:
            yield server.url
    accounts.close()


ROUTES: Final = ("/api/flats/{flat}/climate", "/api/buildings/B1/flats/{flat}/climate")
"""The resident's own route and the building's (the same answer)."""


def get(url: str, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN['resident']}"}
    return requests.get(url, params=params, headers=headers, timeout=30)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("days", "resolution", "points"), [(1, "raw", 288), (30, "hourly", 720), (90, "daily", 41)]
)
def test_the_endpoint_answers_at_the_resolution_of_the_range(
    api_url: str, route: str, days: int, resolution: str, points: int
) -> None:
    end = (T0 + days * 24 * HOUR).isoformat()
    answer = get(api_url + route.format(flat="A"), start=T0.isoformat(), end=end)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["resolution"] == resolution
    stue = body["rooms"][1]
    assert (stue["room"], len(stue["time_s"]), len(stue["co2_ppm_max"])) == ("stue", points, points)
    expected = climate_series(SERVED["store"], "B1", "A", T0, T0 + days * 24 * HOUR)
    assert expected.resolution.value == resolution
    assert stue["time_s"] == expected.rooms[1].time_s
    assert stue["temperature_c_mean"] == expected.rooms[1].values["temperature_c_mean"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("flat", "params", "status", "says"),
    [
        ("nobody", {}, 404, "findes ikke"),
        ("A", {"start": "2026-01-05T00:00:00"}, 422, "tidszone"),
        ("A", {"start": "2026-01-05T00:00:00Z", "end": "2026-01-04T00:00:00Z"}, 422, "før"),
        ("A", {"start": "2020-01-01T00:00:00Z", "end": "2035-01-01T00:00:00Z"}, 422, "Højst"),
        ("A", {"start": "0001-01-01T00:00:00Z", "end": "0001-06-01T00:00:00Z"}, 422, "2000"),
        ("A", {"start": "yesterday"}, 422, "Ugyldig"),
    ],
)
def test_the_endpoint_refuses_bad_input_in_danish_and_english(
    api_url: str, route: str, flat: str, params: dict[str, str], status: int, says: str
) -> None:
    answer = get(api_url + route.format(flat=flat), **params)
    assert answer.status_code == status
    assert says in answer.json()["detail"] and " / " in answer.json()["detail"]


@pytest.mark.parametrize("route", ROUTES)
def test_the_endpoint_needs_a_token(api_url: str, route: str) -> None:
    assert requests.get(api_url + route.format(flat="A"), timeout=30).status_code == 401


# indeklima jobs rollup: the backfill


def test_the_rollup_command_backfills_a_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from cloud.cli import main

    registry = tmp_path / "registry.json"
    registry.write_text(json.dumps(REGISTRY))
    db = tmp_path / "store.sqlite"
    with SqliteStore(db) as store:
        store.write([p for p in a_month_of_readings() if p.time_ns < ns(T0 + 3 * 24 * HOUR)])
    args = ["jobs", "rollup", "--registry", str(registry), "--sqlite", str(db)]
    since, until = ["--since", T0.isoformat()], ["--until", (T0 + 5 * 24 * HOUR).isoformat()]
    assert main([*args, *since, *until]) == 0
    assert json.loads(capsys.readouterr().out) == {"building": "B1", "hours_rolled": 72}
    with SqliteStore(db) as store:
        assert store.count(HOURLY) == 72 + 72  # stue and bad, every hour
        assert store.count(DAILY) == 2 * 4  # 5, 6, 7 and (one local hour of) 8 January
    assert main([*args, *since, *until]) == 0  # again: nothing to do
    assert json.loads(capsys.readouterr().out)["hours_rolled"] == 0
    assert main([*args, *since, *until, "--building", "B9"]) == 2
    with pytest.raises(SystemExit):  # argparse: give a time zone
        main([*args, "--since", "2026-01-05T00:00:00"])
