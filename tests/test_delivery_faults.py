"""Nothing lost, nothing doubled — on real Mosquitto, real InfluxDB and real processes.

Each test runs a gateway process (tests/feeder.py: real Gateway, outbox and uplink; synthetic
sensors) and ingest processes (`indeklima ingest`), breaks something mid-stream, and then checks
that the store holds exactly the readings the gateway committed: every one, each once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.servers import InfluxServer, MosquittoServer
from edge.wire import Reading
from tests.stack import SENSORS, Stack, expected_rows, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.slow]
TOTAL = 6_000


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[InfluxServer]:
    with InfluxServer(tmp_path / "influx") as server:
        yield server


@pytest.fixture
def stack(tmp_path: Path, mosquitto: MosquittoServer, influx: InfluxServer) -> Iterator[Stack]:
    s = Stack(tmp_path, mosquitto, influx)
    yield s
    s.close()


def assert_exactly_once(stack: Stack, total: int) -> None:
    """Every reading the gateway committed is stored once, with its time AND its values."""
    stored = stack.stored_rows()
    expected = expected_rows(total)
    assert {k: len(v) for k, v in stored.items()} == {k: len(v) for k, v in expected.items()}
    assert stored == expected


def test_assert_exactly_once_sees_a_wrong_value(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    """The check itself can fail: one stored value changed is caught (same key, other value)."""
    from cloud.store.sqlite import SqliteStore
    from tests.feeder import sample

    stack = Stack(tmp_path, mosquitto)
    store = SqliteStore(tmp_path / "store.sqlite")
    try:
        readings = []
        for i in range(20):
            s = sample(i, SENSORS)
            assert s.time is not None
            readings.append(
                Reading(
                    time_ms=int(s.time.timestamp() * 1000), building="B1", flat=f"F{i % SENSORS}",
                    room="living", sensor=f"s{i % SENSORS}",
                    values={"temperature_c": s.values.temperature_c or 0.0,
                            "co2_ppm": s.values.co2_ppm or 0.0},
                )
            )  # fmt: skip
        store.write_readings(readings)
        assert_exactly_once(stack, 20)
        wrong = readings[7]
        store.write_readings(
            [Reading(wrong.time_ms, wrong.building, wrong.flat, wrong.room, wrong.sensor,
                     {**wrong.values, "co2_ppm": wrong.values["co2_ppm"] + 1})]
        )  # fmt: skip
        with pytest.raises(AssertionError):
            assert_exactly_once(stack, 20)
    finally:
        store.close()


def test_broker_killed_and_restarted_several_times(stack: Stack) -> None:
    stack.start_ingest()
    stack.wait_ingest_connected()
    stack.start_feeder(TOTAL, rate=800)
    stored = 0
    for _ in range(3):
        # readings committed, sent and stored since the last restart: the stream is flowing
        stored = stack.wait_stored(stored + 200)
        stack.assert_feeder_running()
        stack.broker.kill()
        stack.broker.start()
    report = stack.wait_feeder()
    assert report["added"] == TOTAL
    assert_exactly_once(stack, TOTAL)


def test_ingest_down_while_gateway_produces(stack: Stack) -> None:
    stack.start_ingest()
    stack.wait_ingest_connected()
    # 12 s of production: a loaded machine must not let the gateway finish before ingest stops
    stack.start_feeder(TOTAL, rate=500)
    stack.wait_stored(500)
    stack.assert_feeder_running()
    stack.stop_ingest()
    # the gateway keeps producing while ingest is away; the broker queues for its session
    # the gateway has readings that ingest has not confirmed (it is still running: it waits for
    # every ack), and usually more to produce; wait for up to 1,000 more before ingest returns
    fed = stack.fed()
    wait_until(
        lambda: stack.fed() >= min(fed + 1000, TOTAL), 60, "the gateway to produce 1,000 more"
    )
    stack.start_ingest()
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_two_ingests_on_shared_subscription_one_killed(stack: Stack) -> None:
    stack.start_ingest("ingest-a", "--report-every", "0.2")
    stack.start_ingest("ingest-b", "--report-every", "0.2")
    stack.wait_ingest_connected("ingest-a")
    stack.wait_ingest_connected("ingest-b")
    stack.start_feeder(TOTAL, rate=1500)
    # both members have stored readings: the one killed is really part of the group
    wait_until(
        lambda: stack.ingest_stored("ingest-a") > 0 and stack.ingest_stored("ingest-b") > 0,
        60,
        "both ingests to store readings",
    )
    stack.assert_feeder_running()
    stack.stop_ingest("ingest-b", kill=True)
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_influxdb_down_for_a_while(stack: Stack) -> None:
    assert stack.influx is not None
    stack.start_ingest()
    stack.wait_ingest_connected()
    stack.start_feeder(TOTAL, rate=1500)
    stack.wait_stored(500)
    stack.assert_feeder_running()
    stack.influx.kill()
    log = stack.folder / "ingest-1.log"
    wait_until(lambda: "store unavailable" in log.read_text(), 60, "ingest to meet the dead store")
    fed = stack.fed()
    wait_until(lambda: stack.fed() >= fed + 1000, 60, "the gateway to produce 1,000 more")
    stack.influx.start()
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_gateway_killed_mid_batch_and_restarted(stack: Stack) -> None:
    stack.start_ingest()
    stack.wait_ingest_connected()
    stored = 0
    for _ in range(2):
        stack.start_feeder(TOTAL, rate=1500)
        stored = stack.wait_stored(stored + 500)
        stack.assert_feeder_running()
        stack.kill_feeder()
    stack.start_feeder(TOTAL, rate=1500)
    report = stack.wait_feeder()
    assert report["added"] == TOTAL
    assert_exactly_once(stack, TOTAL)


def test_everything_arrives_with_sqlite_store_too(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    stack = Stack(tmp_path, mosquitto)
    try:
        stack.start_ingest()
        stack.wait_ingest_connected()
        stack.start_feeder(2_000, rate=3000)
        stack.wait_feeder()
        wait_until(lambda: sum(map(len, stack.stored_times().values())) == 2_000, 10, "store")
        assert_exactly_once(stack, 2_000)
    finally:
        stack.close()
