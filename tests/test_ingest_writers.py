"""Several ingest writers: groups finish out of order, acks still go out in order; stopping
while the store is down leaves every message to the broker, and a restarted ingest stores
them all. Real Mosquitto and SQLite stores; the only addition is a store that is slow for
chosen batches, to force writers to finish out of order."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest, IngestStats
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE
from cloud.store.sqlite import SqliteStore
from edge.mqtt import MqttConnection
from edge.wire import Reading, ReadingsBatch, encode, readings_topic
from tests.stack import ROOT, Stack, wait_until

pytestmark = pytest.mark.servers

REGISTRY = Registry.model_validate(
    {
        "buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 50.0}]}],
        "gateways": [{"id": "gw-a", "building": "B1", "flats": ["F1"]}],
    }
)
T0 = 1_767_225_600_000
BATCHES = 12
PER_BATCH = 5


def message(n: int) -> bytes:
    readings = [
        Reading(
            time_ms=T0 + (n * PER_BATCH + i) * 60_000,
            building="B1",
            flat="F1",
            room="living",
            sensor="s1",
            values={"temperature_c": 20.0 + n + i / 10},
        )
        for i in range(PER_BATCH)
    ]
    return encode(ReadingsBatch(v=1, gateway="gw-a", batch_id=f"b{n}", readings=readings))


def publish_all(url: str) -> None:
    with MqttConnection(url, "gw-a") as gateway:
        assert gateway.wait_connected(10)
        for n in range(BATCHES):
            gateway.publish(readings_topic("gw-a"), message(n), qos=1).wait_for_publish(5)


class SlowForSomeStore(SqliteStore):
    """A real SQLite store that takes longer over every third batch, and records the order in
    which writes finish (by the time of their first reading)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.finished: list[int] = []
        self._order = threading.Lock()

    def write_readings(
        self, readings: Sequence[Reading], gateways: Sequence[str] | None = None
    ) -> None:
        first = (readings[0].time_ms - T0) // 60_000 // PER_BATCH
        if first % 3 == 0:
            time.sleep(0.3)
        super().write_readings(readings, gateways)
        with self._order:
            self.finished.append(first)


def test_acks_follow_message_order_when_writers_finish_out_of_order(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    store = SlowForSomeStore(tmp_path / "store.sqlite")
    acked: list[int] = []
    with closing(store), DeadLetters(tmp_path / "dead.sqlite") as dead:
        # one message per group: a group is whatever arrived within 1 ms
        ingest = Ingest(
            store,
            REGISTRY,
            dead,
            mqtt_url=mosquitto.url,
            client_id="t-writers",
            batch_max_points=PER_BATCH,
            batch_max_age_s=0.001,
            writers=3,
        )
        real_ack = ingest.conn.ack

        def ack(msg: mqtt.MQTTMessage) -> None:
            acked.append(int(msg.payload.split(b'"batch_id":"b')[1].split(b'"')[0]))
            real_ack(msg)

        ingest.conn.ack = ack  # type: ignore[method-assign]
        with ingest:
            assert ingest.conn.wait_connected(10)
            time.sleep(0.3)
            publish_all(mosquitto.url)
            deadline = time.monotonic() + 20
            while ingest.stats.messages < BATCHES and time.monotonic() < deadline:
                time.sleep(0.02)
        assert store.count(CLIMATE) == BATCHES * PER_BATCH
    assert store.finished != sorted(store.finished), "writers never finished out of order"
    assert acked == list(range(BATCHES))


def test_stop_with_store_down_leaves_messages_to_broker(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    down = SqliteStore(tmp_path / "down.sqlite")
    down.close()  # every write is now StoreUnavailable
    with closing(down), DeadLetters(tmp_path / "dead.sqlite") as dead:
        ingest = Ingest(
            down,
            REGISTRY,
            dead,
            mqtt_url=mosquitto.url,
            client_id="t-writers-down",
            batch_max_points=PER_BATCH,
            batch_max_age_s=0.001,
            writers=2,
        )
        with ingest:
            assert ingest.conn.wait_connected(10)
            time.sleep(0.3)
            publish_all(mosquitto.url)
            deadline = time.monotonic() + 10
            while ingest.stats.store_retries < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert ingest.stats.store_retries >= 2
        assert ingest.stats.messages == 0  # nothing acked
        assert not [t for t in threading.enumerate() if t.name.startswith("ingest-")]

    store = SqliteStore(tmp_path / "store.sqlite")
    with closing(store), DeadLetters(tmp_path / "dead2.sqlite") as dead:
        again = Ingest(store, REGISTRY, dead, mqtt_url=mosquitto.url, client_id="t-writers-down")
        with again:
            deadline = time.monotonic() + 20
            while store.count(CLIMATE) < BATCHES * PER_BATCH and time.monotonic() < deadline:
                time.sleep(0.05)
        assert store.count(CLIMATE) == BATCHES * PER_BATCH
        assert dead.all() == []


def test_writers_must_be_positive(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    store = SqliteStore(tmp_path / "store.sqlite")
    with (
        closing(store),
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        pytest.raises(ValueError, match="writers must be at least 1"),
    ):
        Ingest(store, REGISTRY, dead, mqtt_url=mosquitto.url, writers=0)


class BrokenStore(SqliteStore):
    """A store with a bug: every write raises something that is not a store error."""

    def write_readings(
        self, readings: Sequence[Reading], gateways: Sequence[str] | None = None
    ) -> None:
        raise RuntimeError("a bug in the store")


def test_a_worker_error_stops_ingest_and_acks_nothing(
    tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = BrokenStore(tmp_path / "store.sqlite")
    with closing(store), DeadLetters(tmp_path / "dead.sqlite") as dead:
        ingest = Ingest(
            store,
            REGISTRY,
            dead,
            mqtt_url=mosquitto.url,
            client_id="t-writers-bug",
            batch_max_points=PER_BATCH,
            batch_max_age_s=0.001,
        )
        with ingest:
            assert ingest.conn.wait_connected(10)
            time.sleep(0.3)
            publish_all(mosquitto.url)
            assert ingest.failed.wait(10)
        assert ingest.stats.messages == 0
        assert not [t for t in threading.enumerate() if t.name.startswith("ingest-")]
    assert "failed; stopping ingest" in caplog.text
    assert "a bug in the store" in caplog.text


def test_progress_line_says_totals_and_what_changed() -> None:
    earlier = IngestStats(messages=10, readings_stored=5_000, dead_letters=1, store_retries=0)
    now = IngestStats(messages=30, readings_stored=17_000, dead_letters=3, store_retries=2)
    assert now.progress(earlier, 60.0) == (
        "17,000 readings stored (+12,000 in 60 s, 200/s) from 30 messages; "
        "3 dead letters (+2); 2 store retries (+2)"
    )


def test_ingest_command_reports_progress_and_a_summary(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    stack = Stack(tmp_path, mosquitto)
    try:
        stack.start_ingest("ingest-1", "--report-every", "0.5")
        stack.wait_ingest_connected()
        stack.start_feeder(300, rate=600)
        stack.wait_feeder()
        log = tmp_path / "ingest-1.log"
        wait_until(lambda: "readings stored (+" in log.read_text(), 10, "a progress line")
        stack.stop_ingest()
        text = log.read_text()
        assert "ingest-1 stopping: 300 readings stored" in text
        assert "0 dead letters" in text
    finally:
        stack.close()


def test_progress_is_logged_without_verbose(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    stack = Stack(tmp_path, mosquitto)  # for its registry file
    command = [
        sys.executable, "-m", "cloud.cli", "ingest", "--mqtt-url", mosquitto.url,
        "--client-id", "quiet", "--registry", str(stack.registry),
        "--dead-letters", str(tmp_path / "dead.sqlite"), "--sqlite", str(tmp_path / "s.sqlite"),
        "--report-every", "0.3",
    ]  # fmt: skip
    log = tmp_path / "quiet.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_until(lambda: "readings stored (+0 in" in log.read_text(), 20, "a progress line")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert "quiet stopping: 0 readings stored" in log.read_text()
