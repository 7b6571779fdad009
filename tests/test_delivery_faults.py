"""Nothing lost, nothing doubled — on real Mosquitto, real InfluxDB and real processes.

Each test runs a gateway process (tests/feeder.py: real Gateway, outbox and uplink; synthetic
sensors) and ingest processes (`indeklima ingest`), breaks something mid-stream, and then checks
that the store holds exactly the readings the gateway committed: every one, each once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.servers import InfluxServer, MosquittoServer
from tests.stack import Stack, expected_times, wait_until

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
    stored = stack.stored_times()
    expected = expected_times(total)
    assert {k: len(v) for k, v in stored.items()} == {k: len(v) for k, v in expected.items()}
    assert stored == expected


def test_broker_killed_and_restarted_several_times(stack: Stack) -> None:
    stack.start_ingest()
    stack.start_feeder(TOTAL, rate=800)
    for _ in range(3):
        time.sleep(1.5)
        stack.broker.kill()
        time.sleep(1.0)
        stack.broker.start()
    report = stack.wait_feeder()
    assert report["added"] == TOTAL
    assert_exactly_once(stack, TOTAL)


def test_ingest_down_while_gateway_produces(stack: Stack) -> None:
    stack.start_ingest()
    stack.start_feeder(TOTAL, rate=1500)
    time.sleep(1.0)
    stack.stop_ingest()
    time.sleep(3.0)  # the gateway keeps producing; the broker queues for ingest's session
    stack.start_ingest()
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_two_ingests_on_shared_subscription_one_killed(stack: Stack) -> None:
    stack.start_ingest("ingest-a")
    stack.start_ingest("ingest-b")
    time.sleep(1.0)
    stack.start_feeder(TOTAL, rate=1500)
    time.sleep(2.0)
    stack.stop_ingest("ingest-b", kill=True)
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_influxdb_down_for_a_while(stack: Stack) -> None:
    assert stack.influx is not None
    stack.start_ingest()
    stack.start_feeder(TOTAL, rate=1500)
    time.sleep(1.0)
    stack.influx.kill()
    time.sleep(4.0)
    stack.influx.start()
    stack.wait_feeder()
    assert_exactly_once(stack, TOTAL)


def test_gateway_killed_mid_batch_and_restarted(stack: Stack) -> None:
    stack.start_ingest()
    for _ in range(2):
        stack.start_feeder(TOTAL, rate=1500)
        time.sleep(1.5)
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
        stack.start_feeder(2_000, rate=3000)
        stack.wait_feeder()
        wait_until(lambda: sum(map(len, stack.stored_times().values())) == 2_000, 10, "store")
        assert_exactly_once(stack, 2_000)
    finally:
        stack.close()
