"""The contract every time-series store keeps (cloud/store/base.py), run against the embedded
SQLite store and a real InfluxDB 1.x server started by the test."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from cloud.servers import InfluxServer, free_port
from cloud.store.base import (
    CLIMATE,
    Aggregate,
    FieldValue,
    Point,
    StoreRejected,
    StoreUnavailable,
    TimeSeriesStore,
)
from cloud.store.influx import InfluxAuthError, InfluxStore
from cloud.store.sqlite import SqliteStore

pytestmark = pytest.mark.servers

T0 = datetime(2026, 1, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)
TAGS = ["building", "flat", "room", "sensor"]


def ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1_000


def reading(
    flat: str, at: datetime, *, sensor: str = "s1", room: str = "stue", **fields: FieldValue
) -> Point:
    tags = {"building": "B1", "flat": flat, "room": room, "sensor": sensor}
    return Point(CLIMATE, tags, fields, ns(at))


def expected(rows: list[dict[str, Any]], fields: list[str]) -> pd.DataFrame:
    """The frame a store must return for `rows` (time, tags, fields), already in order."""
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime([r["time"] for r in rows], utc=True).as_unit("ns"),
            **{t: pd.Series([r.get(t, "") for r in rows], dtype=object) for t in TAGS},
            **{f: [r.get(f) for r in rows] for f in fields},
        }
    )
    for f in fields:
        frame[f] = frame[f].astype("float64")
    return frame


def everything(store: TimeSeriesStore, **kwargs: Any) -> pd.DataFrame:
    return store.query(CLIMATE, T0 - 10 * HOUR, T0 + 100 * HOUR, **kwargs)


@pytest.fixture(scope="module")
def influx_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path_factory.mktemp("influx")) as server:
        yield server


def fresh_database() -> str:
    return f"test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", "influx"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    made: TimeSeriesStore
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "store.sqlite")
    else:
        server: InfluxServer = request.getfixturevalue("influx_server")
        made = InfluxStore(server.url, fresh_database())
    yield made
    made.close()


# writing and reading back


def test_round_trip_of_values_and_tags(store: TimeSeriesStore) -> None:
    store.write(
        [
            reading("A-1", T0 + timedelta(minutes=1), temperature_c=21.25, humidity_pct=40.5),
            reading("A-1", T0, temperature_c=21.0, humidity_pct=41),
            reading("B 2", T0, sensor="s2", room="bad", temperature_c=-3.5, co2_ppm=612),
        ]
    )
    rows = [
        {"time": T0, "building": "B1", "flat": "A-1", "room": "stue", "sensor": "s1",
         "humidity_pct": 41.0, "temperature_c": 21.0},
        {"time": T0, "building": "B1", "flat": "B 2", "room": "bad", "sensor": "s2",
         "co2_ppm": 612.0, "temperature_c": -3.5},
        {"time": T0 + timedelta(minutes=1), "building": "B1", "flat": "A-1", "room": "stue",
         "sensor": "s1", "humidity_pct": 40.5, "temperature_c": 21.25},
    ]  # fmt: skip
    assert_frame_equal(
        everything(store), expected(rows, ["co2_ppm", "humidity_pct", "temperature_c"])
    )


def test_string_and_bool_fields_keep_their_type(store: TimeSeriesStore) -> None:
    store.write([reading("A-1", T0, temperature_c=20.0, flags="stuck:co2_ppm", door_open=True)])
    frame = everything(store)
    assert frame.loc[0, "flags"] == "stuck:co2_ppm"
    assert [(type(v), v) for v in frame["door_open"]] == [(bool, True)]


def test_the_same_key_again_is_stored_once_and_merges_fields(store: TimeSeriesStore) -> None:
    """A redelivered reading overwrites itself; a field it lacks is kept (InfluxDB's rule)."""
    store.write([reading("A-1", T0, temperature_c=20.0, humidity_pct=50.0)])
    store.write([reading("A-1", T0, temperature_c=20.0, humidity_pct=50.0)])
    store.write([reading("A-1", T0, temperature_c=22.5)])
    frame = everything(store)
    assert store.count(CLIMATE) == 1
    assert (frame["temperature_c"].tolist(), frame["humidity_pct"].tolist()) == ([22.5], [50.0])


def test_a_batch_repeating_a_key_keeps_the_last(store: TimeSeriesStore) -> None:
    store.write([reading("A-1", T0, temperature_c=1.0), reading("A-1", T0, temperature_c=2.0)])
    assert everything(store)["temperature_c"].tolist() == [2.0]


def test_out_of_order_and_late_points_are_all_stored_in_time_order(
    store: TimeSeriesStore,
) -> None:
    minutes = [30, 10, 50, 20]
    store.write([reading("A-1", T0 + timedelta(minutes=m), co2_ppm=float(m)) for m in minutes])
    store.write([reading("A-1", T0 + timedelta(minutes=40), co2_ppm=40.0)])  # late
    store.write([reading("A-1", T0 - timedelta(days=3), co2_ppm=-1.0)])  # very late
    frame = store.query(CLIMATE, T0 - timedelta(days=4), T0 + HOUR)
    assert frame["co2_ppm"].tolist() == [-1.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    assert frame["time"].is_monotonic_increasing
    assert store.count(CLIMATE) == 6


def test_query_covers_start_but_not_end(store: TimeSeriesStore) -> None:
    one_us = timedelta(microseconds=1)
    times = [T0 - one_us, T0, T0 + HOUR - one_us, T0 + HOUR]
    store.write([reading("A-1", t, co2_ppm=float(i)) for i, t in enumerate(times)])
    frame = store.query(CLIMATE, T0, T0 + HOUR)
    assert frame["co2_ppm"].tolist() == [1.0, 2.0]
    assert frame["time"].tolist() == [T0, T0 + HOUR - one_us]


def test_a_write_of_many_chunks_loses_nothing(influx_server: InfluxServer, tmp_path: Path) -> None:
    points = [reading(f"F{i % 7}", T0 + timedelta(seconds=i), co2_ppm=float(i)) for i in range(999)]
    for made in (
        InfluxStore(influx_server.url, fresh_database(), chunk_lines=50, concurrency=3),
        SqliteStore(tmp_path / "many.sqlite"),
    ):
        with made:
            made.write(points)
            assert made.count(CLIMATE) == 999
            assert sorted(everything(made)["co2_ppm"]) == [float(i) for i in range(999)]


# filtering

AWKWARD = [
    ("space", "A 12"),
    ("comma", "A,12"),
    ("equals", "A=12"),
    ("single quote", "O'Brien"),
    ("double quote", 'say "hi"'),
    ("unicode", "Åbyhøj 3.th"),
    ("injection", "x' OR flat =~ /.*/ OR flat = 'y"),
]


@pytest.mark.parametrize("flat", [v[1] for v in AWKWARD], ids=[v[0] for v in AWKWARD])
def test_where_matches_awkward_values_literally(store: TimeSeriesStore, flat: str) -> None:
    store.write(
        [
            reading(flat, T0, co2_ppm=1.0),
            reading("x", T0, co2_ppm=2.0),
            reading("y", T0, co2_ppm=3.0),
        ]
    )
    frame = everything(store, where={"flat": flat})
    assert (frame["flat"].tolist(), frame["co2_ppm"].tolist()) == ([flat], [1.0])
    assert store.count(CLIMATE, where={"flat": flat}) == 1


INJECTIONS = [
    ("closing quote", "x' OR '1'='1"),
    ("regex", "x' OR flat =~ /.*/ OR flat = 'y"),
    ("second statement", "x'; DROP MEASUREMENT climate; SELECT * FROM climate WHERE flat = 'x"),
    ("backslash before quote", "x\\' OR '1'='1"),
    ("newline", "x'\nOR '1'='1"),
    ("NUL", "x\x00' OR '1'='1"),
]


@pytest.mark.parametrize("value", [v[1] for v in INJECTIONS], ids=[v[0] for v in INJECTIONS])
def test_an_injection_attempt_stays_a_literal(store: TimeSeriesStore, value: str) -> None:
    store.write([reading("x", T0, co2_ppm=1.0), reading("y", T0, co2_ppm=2.0)])
    assert everything(store, where={"flat": value}).empty
    assert store.count(CLIMATE, where={"flat": value}) == 0
    assert store.count(CLIMATE) == 2


def test_where_on_several_tags(store: TimeSeriesStore) -> None:
    store.write(
        [
            reading("A", T0, room="stue", co2_ppm=1.0),
            reading("A", T0, room="bad", co2_ppm=2.0),
            reading("B", T0, room="stue", co2_ppm=3.0),
        ]
    )
    assert everything(store, where={"flat": "A", "room": "stue"})["co2_ppm"].tolist() == [1.0]


def test_fields_selects_columns_and_skips_points_without_them(store: TimeSeriesStore) -> None:
    store.write(
        [
            reading("A", T0, temperature_c=20.0, co2_ppm=500.0),
            reading("A", T0 + HOUR, co2_ppm=600.0),
            reading("A", T0 + 2 * HOUR, humidity_pct=40.0, temperature_c=21.0),
        ]
    )
    frame = everything(store, fields=["temperature_c", "humidity_pct"])
    assert list(frame.columns) == ["time", *TAGS, "temperature_c", "humidity_pct"]
    assert frame["temperature_c"].tolist() == [20.0, 21.0]
    assert frame["humidity_pct"].isna().tolist() == [True, False]


def test_an_empty_query_has_the_columns_and_no_rows(store: TimeSeriesStore) -> None:
    fresh = store.query(CLIMATE, T0, T0 + HOUR)
    assert list(fresh.columns) == ["time"]
    assert fresh.empty
    store.write([reading("A", T0, co2_ppm=500.0, temperature_c=20.0)])
    later = store.query(CLIMATE, T0 + HOUR, T0 + 2 * HOUR)
    assert list(later.columns) == ["time", *TAGS, "co2_ppm", "temperature_c"]
    assert later.empty
    assert str(later["time"].dtype) == "datetime64[ns, UTC]"
    named = store.query(CLIMATE, T0 + HOUR, T0 + 2 * HOUR, fields=["co2_ppm"])
    assert list(named.columns) == ["time", *TAGS, "co2_ppm"]
    assert named["co2_ppm"].dtype == "float64"


def test_count_counts_points_not_field_values(store: TimeSeriesStore) -> None:
    """Points with disjoint fields: count(*) per field would say 2; there are 3 points."""
    store.write(
        [
            reading("A", T0, temperature_c=20.0),
            reading("A", T0 + HOUR, co2_ppm=600.0),
            reading("A", T0 + 2 * HOUR, temperature_c=21.0, co2_ppm=650.0),
            reading("B", T0, flags="stuck"),
        ]
    )
    assert store.count(CLIMATE) == 4
    assert store.count(CLIMATE, where={"flat": "A"}) == 3
    assert store.count(CLIMATE, where={"flat": "nowhere"}) == 0
    assert store.count("no_such_measurement") == 0


# downsampling


def hourly_readings() -> list[Point]:
    """Flat A: 20, 22 in hour 0 and 24 in hour 1; flat B: 18 in hour 0 (two rooms)."""
    return [
        reading("A", T0 + timedelta(minutes=10), temperature_c=20.0, co2_ppm=400.0),
        reading("A", T0 + timedelta(minutes=50), temperature_c=22.0, co2_ppm=800.0),
        reading("A", T0 + timedelta(minutes=70), temperature_c=24.0),
        reading("B", T0 + timedelta(minutes=5), room="bad", temperature_c=17.0),
        reading("B", T0 + timedelta(minutes=55), room="stue", temperature_c=19.0),
    ]


def test_downsample_mean_per_flat_per_hour(store: TimeSeriesStore) -> None:
    store.write(hourly_readings())
    frame = store.downsample(CLIMATE, T0, T0 + 3 * HOUR, HOUR, fields=["temperature_c"])
    want = pd.DataFrame(
        {
            "time": pd.to_datetime([T0, T0, T0 + HOUR], utc=True).as_unit("ns"),
            "building": pd.Series(["B1", "B1", "B1"], dtype=object),
            "flat": pd.Series(["A", "B", "A"], dtype=object),
            "temperature_c": [21.0, 18.0, 24.0],
        }
    )
    assert_frame_equal(frame, want)


AGGREGATES: list[tuple[Aggregate, list[float], list[float]]] = [
    ("mean", [21.0, 24.0], [600.0]),
    ("min", [20.0, 24.0], [400.0]),
    ("max", [22.0, 24.0], [800.0]),
    ("sum", [42.0, 24.0], [1200.0]),
    ("count", [2.0, 1.0], [2.0]),
    ("last", [22.0, 24.0], [800.0]),
]


@pytest.mark.parametrize(
    ("aggregate", "temperature", "co2"), AGGREGATES, ids=[a[0] for a in AGGREGATES]
)
def test_downsample_aggregates(
    store: TimeSeriesStore, aggregate: Aggregate, temperature: list[float], co2: list[float]
) -> None:
    store.write(hourly_readings())
    frame = store.downsample(
        CLIMATE, T0, T0 + 3 * HOUR, HOUR, where={"flat": "A"}, by=("flat",), aggregate=aggregate
    )
    assert list(frame.columns) == ["time", "flat", "co2_ppm", "temperature_c"]
    assert frame["time"].tolist() == [T0, T0 + HOUR]
    assert frame["temperature_c"].tolist() == temperature
    assert frame["co2_ppm"].dropna().tolist() == co2


def test_downsample_windows_are_aligned_to_the_epoch_and_empty_ones_left_out(
    store: TimeSeriesStore,
) -> None:
    store.write(hourly_readings())
    frame = store.downsample(
        CLIMATE,
        T0 + timedelta(minutes=30),
        T0 + 5 * HOUR,
        2 * HOUR,
        fields=["temperature_c"],
        by=(),
    )
    assert frame["time"].tolist() == [T0]  # window [T0, T0+2h); nothing after T0+70 min
    assert frame["temperature_c"].tolist() == [pytest.approx((22.0 + 24.0 + 19.0) / 3)]


def test_an_empty_downsample_has_the_columns(store: TimeSeriesStore) -> None:
    store.write(hourly_readings())
    frame = store.downsample(CLIMATE, T0 + 10 * HOUR, T0 + 11 * HOUR, HOUR)
    assert list(frame.columns) == ["time", "building", "flat", "co2_ppm", "temperature_c"]
    assert frame.empty


# refusals


def test_a_field_type_conflict_is_rejected_and_the_stored_value_kept(
    store: TimeSeriesStore,
) -> None:
    store.write([reading("A", T0, co2_ppm=500.0)])
    with pytest.raises(StoreRejected, match="conflict"):
        store.write([reading("A", T0, co2_ppm="high")])
    assert everything(store)["co2_ppm"].tolist() == [500.0]


def test_ints_are_stored_as_floats_so_the_type_never_changes(store: TimeSeriesStore) -> None:
    store.write([reading("A", T0, co2_ppm=500)])
    store.write([reading("A", T0 + HOUR, co2_ppm=500.5)])
    assert everything(store)["co2_ppm"].tolist() == [500.0, 500.5]


UNSTORABLE = [
    ("NaN", reading("A", T0, co2_ppm=float("nan"))),
    ("infinity", reading("A", T0, co2_ppm=float("inf"))),
    ("newline in a tag", reading("A\nB", T0, co2_ppm=1.0)),
    ("backslash in a tag", reading("A\\", T0, co2_ppm=1.0)),
    ("NUL in a tag", reading("A\x00", T0, co2_ppm=1.0)),
    ("field named time", reading("A", T0, time=1.0)),
    ("no fields", reading("A", T0)),
]


@pytest.mark.parametrize("point", [v[1] for v in UNSTORABLE], ids=[v[0] for v in UNSTORABLE])
def test_unstorable_points_are_rejected(store: TimeSeriesStore, point: Point) -> None:
    with pytest.raises(StoreRejected):
        store.write([point])


def test_close_twice_then_using_it_says_so(store: TimeSeriesStore) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.write([reading("A", T0, co2_ppm=1.0)])


# properties: whatever the tags and strings, they come back as written

TEXT = st.text(
    st.characters(exclude_characters="\n\r\\\x00", exclude_categories=["Cs"]), min_size=1
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flat=TEXT, room=TEXT, note=st.text(), value=st.floats(allow_nan=False, allow_infinity=False))
def test_any_tags_and_strings_round_trip(
    store: TimeSeriesStore, flat: str, room: str, note: str, value: float
) -> None:
    at = T0 + timedelta(microseconds=next(_TICKS))
    store.write([reading(flat, at, room=room, note=note, co2_ppm=value)])
    frame = store.query(CLIMATE, at, at + timedelta(microseconds=1), where={"flat": flat})
    assert frame[["flat", "room", "note", "co2_ppm"]].values.tolist() == [[flat, room, note, value]]


_TICKS = itertools.count()


# InfluxDB only: reachability and credentials


def test_a_server_that_is_not_there_is_unavailable() -> None:
    missing = InfluxStore(f"http://127.0.0.1:{free_port()}", "db", timeout_s=2)
    with missing, pytest.raises(StoreUnavailable, match="cannot reach"):
        missing.write([reading("A", T0, co2_ppm=1.0)])


def test_a_stopped_server_is_unavailable_until_it_is_back(tmp_path: Path) -> None:
    with InfluxServer(tmp_path / "influx") as server:
        made = InfluxStore(server.url, "db", timeout_s=5)
        with made:
            made.write([reading("A", T0, co2_ppm=1.0)])
            server.kill()
            with pytest.raises(StoreUnavailable):
                made.write([reading("A", T0 + HOUR, co2_ppm=2.0)])
            with pytest.raises(StoreUnavailable):
                made.count(CLIMATE)
            server.start()
            made.write([reading("A", T0 + HOUR, co2_ppm=2.0)])
            assert made.count(CLIMATE) == 2


@pytest.fixture(scope="module")
def influx_with_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path_factory.mktemp("influx-auth"), auth=True) as server:
        answer = requests.post(
            f"{server.url}/query",
            data={"q": "CREATE USER admin WITH PASSWORD 'hemmelig' WITH ALL PRIVILEGES"},
            timeout=10,
        )
        answer.raise_for_status()
        assert "error" not in answer.text
        yield server


def test_the_right_credentials_write(influx_with_auth: InfluxServer) -> None:
    made = InfluxStore(influx_with_auth.url, "secure", username="admin", password="hemmelig")
    with made:
        made.write([reading("A", T0, co2_ppm=1.0)])
        assert made.count(CLIMATE) == 1


CREDENTIALS = [
    ("wrong password", {"username": "admin", "password": "forkert"}),
    ("unknown user", {"username": "nobody", "password": "hemmelig"}),
    ("none", {}),
    ("token on InfluxDB 1.6 (tokens need 1.8+ or 2.x)", {"token": "admin:hemmelig"}),
]


@pytest.mark.parametrize(
    "credentials", [c[1] for c in CREDENTIALS], ids=[c[0] for c in CREDENTIALS]
)
def test_wrong_credentials_say_so(
    influx_with_auth: InfluxServer, credentials: dict[str, str]
) -> None:
    made = InfluxStore(
        influx_with_auth.url,
        "secure",
        username=credentials.get("username"),
        password=credentials.get("password"),
        token=credentials.get("token"),
    )
    with made, pytest.raises(InfluxAuthError, match="refused the credentials"):
        made.write([reading("A", T0, co2_ppm=1.0)])


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers every POST with `answer` after `delay_s`, recording the headers it got."""

    answer: ClassVar[tuple[int, bytes]] = (204, b"")
    delay_s: ClassVar[float] = 0.0
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.seen.append(dict(self.headers))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(self.delay_s)
        status, body = self.answer
        with contextlib.suppress(OSError):  # the client may have given up (timeout test)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[str]:
    """An HTTP server that answers as `_Scripted` is told: for what a healthy InfluxDB 1.6 will
    not do on demand (5xx, 429, tokens, hanging)."""
    _Scripted.answer, _Scripted.delay_s, _Scripted.seen = (204, b""), 0.0, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_token_is_sent_as_influxdb_2_expects(scripted: str) -> None:
    """InfluxDB 1.6 has no token auth (1.8+ and 2.x do:
    https://docs.influxdata.com/influxdb/v2/api-guide/influxdb-1x/#token-authentication)."""
    with InfluxStore(scripted, "db", token="s3cr3t", create_database=False) as made:
        made.write([reading("A", T0, co2_ppm=1.0)])
    assert [h["Authorization"] for h in _Scripted.seen] == ["Token s3cr3t"]
    assert _Scripted.seen[0]["Content-Encoding"] == "gzip"


ANSWERS: list[tuple[str, int, bytes, type[Exception], str]] = [
    ("server error", 500, b'{"error":"engine: cache-max-memory-size exceeded"}',
     StoreUnavailable, "cache-max-memory-size"),
    ("unavailable", 503, b"", StoreUnavailable, "503"),
    ("too many requests", 429, b'{"error":"too many requests"}', StoreUnavailable, "429"),
    ("database gone", 404, b'{"error":"database not found: \\"db\\""}',
     StoreUnavailable, "create it"),
    ("bad line", 400, b'{"error":"unable to parse \'x\': missing fields"}',
     StoreRejected, "missing fields"),
    ("unauthorized", 401, b'{"error":"authorization failed"}', InfluxAuthError, "credentials"),
    ("forbidden", 403, b'{"error":"forbidden"}', InfluxAuthError, "credentials"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "error", "says"), [a[1:] for a in ANSWERS], ids=[a[0] for a in ANSWERS]
)
def test_http_answers_map_to_retry_or_reject(
    scripted: str, status: int, body: bytes, error: type[Exception], says: str
) -> None:
    _Scripted.answer = (status, body)
    with (
        InfluxStore(scripted, "db", create_database=False) as made,
        pytest.raises(error, match=says) as raised,
    ):
        made.write([reading("A", T0, co2_ppm=1.0)])
    assert type(raised.value) is error


def test_a_hanging_server_times_out_as_unavailable(scripted: str) -> None:
    _Scripted.delay_s = 1.0
    with (
        InfluxStore(scripted, "db", timeout_s=0.2, create_database=False) as made,
        pytest.raises(StoreUnavailable, match="did not answer"),
    ):
        made.write([reading("A", T0, co2_ppm=1.0)])


# SQLite only: threads and a second process share the file


def test_sqlite_serves_a_writer_thread_and_readers_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    with SqliteStore(path) as made:
        errors: list[BaseException] = []

        def writer() -> None:
            try:
                for batch in range(20):
                    made.write(
                        [
                            reading("A", T0 + timedelta(seconds=batch * 100 + i), co2_ppm=1.0)
                            for i in range(100)
                        ]
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        counts = []
        while thread.is_alive():
            counts.append(made.count(CLIMATE))
            everything(made, where={"flat": "A"})
        thread.join(timeout=60)
        assert errors == []
        assert counts == sorted(counts)
        assert made.count(CLIMATE) == 2000
        with SqliteStore(path) as other:
            assert other.count(CLIMATE) == 2000


# query_columns: the lean read for charts


def test_query_columns_gives_each_series_its_numbers_in_time_order(
    store: TimeSeriesStore,
) -> None:
    store.write(
        [
            reading("A", T0 + HOUR, room="stue", temperature_c=21.0, co2_ppm=700),
            reading("A", T0, room="stue", temperature_c=20.5),
            reading("A", T0 + 2 * HOUR, room="stue", humidity_pct=40.0),  # lacks both fields
            reading("A", T0, room="bad", temperature_c=19.0),
            reading("A", T0 + 3 * HOUR, room="bad", temperature_c=18.0),  # at the end: out
            reading("B", T0, room="stue", temperature_c=30.0),
        ]
    )
    found = store.query_columns(
        CLIMATE, T0, T0 + 3 * HOUR, fields=["temperature_c", "co2_ppm"], where={"flat": "A"}
    )
    assert [dict(c.tags) for c in found] == [
        {"building": "B1", "flat": "A", "room": "bad", "sensor": "s1"},
        {"building": "B1", "flat": "A", "room": "stue", "sensor": "s1"},
    ]
    bad, stue = found
    assert bad.time_ns == [ns(T0)] and bad.values == {"temperature_c": [19.0], "co2_ppm": [None]}
    assert stue.time_ns == [ns(T0), ns(T0 + HOUR)]
    assert stue.values == {"temperature_c": [20.5, 21.0], "co2_ppm": [None, 700.0]}
    assert all(type(v) is float for v in stue.values["temperature_c"])


def test_query_columns_of_nothing_is_empty_and_of_text_says_so(store: TimeSeriesStore) -> None:
    assert store.query_columns("nothing_here", T0, T0 + HOUR, fields=["x"]) == []
    store.write([reading("A", T0, temperature_c=20.0, flags="stuck")])
    assert store.query_columns(CLIMATE, T0, T0 + HOUR, fields=["x"]) == []
    assert store.query_columns(CLIMATE, T0, T0 + HOUR, fields=["t"], where={"flat": "Z"}) == []
    with pytest.raises(ValueError, match="not a number"):
        store.query_columns(CLIMATE, T0, T0 + HOUR, fields=["flags"])


def test_query_columns_sees_series_written_after_an_earlier_query(
    store: TimeSeriesStore,
) -> None:
    store.write([reading("A", T0, temperature_c=20.0)])
    assert len(store.query_columns(CLIMATE, T0, T0 + HOUR, fields=["temperature_c"])) == 1
    store.write([reading("B", T0, temperature_c=21.0)])
    later = store.query_columns(CLIMATE, T0, T0 + HOUR, fields=["temperature_c"])
    assert [c.tags["flat"] for c in later] == ["A", "B"]


def _flat_point(measurement: str, building: str, flat: str, at: datetime) -> Point:
    tags = {"building": building, "flat": flat, "room": "stue", "sensor": "s1"}
    return Point(measurement, tags, {"v": 1.0}, ns(at))


def _times(store: TimeSeriesStore, measurement: str, building: str, flat: str) -> list[int]:
    frame = store.query(
        measurement,
        T0 - 10 * HOUR,
        T0 + 100 * HOUR,
        where={"building": building, "flat": flat},
    )
    return [int((t - T0) / HOUR) for t in frame["time"]]


def test_delete_flat_deletes_that_flats_window_in_every_measurement_and_nothing_else(
    store: TimeSeriesStore,
) -> None:
    hours = range(6)
    for measurement in (CLIMATE, "climate_hourly"):
        store.write(
            [
                _flat_point(measurement, building, flat, T0 + h * HOUR)
                for building, flat in (("B1", "1.tv"), ("B1", "2.th"), ("B2", "1.tv"))
                for h in hours
            ]
        )
    for _ in range(2):  # idempotent
        store.delete_flat("B1", "1.tv", T0 + 2 * HOUR, T0 + 4 * HOUR)
        for measurement in (CLIMATE, "climate_hourly"):
            assert _times(store, measurement, "B1", "1.tv") == [0, 1, 4, 5]
            assert _times(store, measurement, "B1", "2.th") == list(hours)
            assert _times(store, measurement, "B2", "1.tv") == list(hours)


@pytest.mark.parametrize(
    "hostile",
    ["1.tv' OR 'a'='a", "1.tv\\", "1.tv\\' OR \"flat\" =~ /.*/ OR 'x'='", '1.tv"', "' OR ''='"],
)
def test_delete_flat_with_hostile_tag_values_cannot_widen_the_delete(
    store: TimeSeriesStore, hostile: str
) -> None:
    """Backslashes cannot be stored in tags (line protocol), but can be asked to be deleted."""
    store.write([_flat_point(CLIMATE, "B1", flat, T0) for flat in ("1.tv", "2.th")])
    store.delete_flat("B1", hostile, T0 - HOUR, T0 + HOUR)
    store.delete_flat(hostile, "1.tv", T0 - HOUR, T0 + HOUR)
    assert _times(store, CLIMATE, "B1", "1.tv") == [0]
    assert _times(store, CLIMATE, "B1", "2.th") == [0]
