"""Dead letters are bounded (count, bytes, age: oldest dropped and counted), readings refused only
for the registry or the clock are replayable, and the operator's command lists, shows, replays
and purges them — the replay through the real ``indeklima deadletters`` command after a real
ingest dead-lettered a gateway that was not yet registered."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from cloud.deadletter import DeadLetter, DeadLetters
from cloud.ingest import Ingest, check_message
from cloud.ingest_cli import _RegistryWatcher
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE
from cloud.store.sqlite import SqliteStore
from edge.mqtt import MqttConnection
from edge.wire import readings_topic
from tests.test_ingest_bad_input import REGISTRY, T0, batch, reading

ROOT = Path(__file__).resolve().parent.parent


def letter(n: int, size: int = 10, time_s: float | None = None) -> DeadLetter:
    return DeadLetter(time.time() if time_s is None else time_s, "t", "gw-a", f"r{n}", b"x" * size)


def test_count_bound_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    with DeadLetters(tmp_path / "d.sqlite", max_count=10) as dead:
        dropped = sum(dead.record([letter(n)]) for n in range(25))
        summary = dead.summary()
        assert dropped == 15 and summary.dropped == 15 and summary.count == 10
        assert [d.reason for d in dead.all()] == [f"r{n}" for n in range(15, 25)]
    with DeadLetters(tmp_path / "d.sqlite", max_count=10) as again:  # kept in the file
        assert again.summary().dropped == 15


def test_byte_bound_drops_the_oldest(tmp_path: Path) -> None:
    with DeadLetters(tmp_path / "d.sqlite", max_bytes=1000) as dead:
        dead.record([letter(n, size=300) for n in range(5)])
        summary = dead.summary()
        assert (summary.count, summary.bytes, summary.dropped) == (3, 900, 2)
        assert [d.reason for d in dead.all()] == ["r2", "r3", "r4"]
        dead.record([letter(9, size=5000)])  # larger than the bound on its own: nothing kept
        assert dead.summary().count == 0 and dead.summary().bytes == 0


def test_retention_time(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with DeadLetters(tmp_path / "d.sqlite", retention_s=3600) as dead:
        dead.record([letter(0, time_s=now - 7200), letter(1, time_s=now - 60)], now_s=now)
        assert [d.reason for d in dead.all()] == ["r1"]
        assert dead.summary().dropped == 1


def test_a_file_from_before_the_bounds_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, time_s REAL, topic TEXT, "
            "gateway TEXT, reason TEXT, payload BLOB)"
        )
        db.execute(
            "INSERT INTO dead_letters VALUES (1, ?, 't', 'gw', 'old', x'0102')", (time.time(),)
        )
        db.commit()
    with DeadLetters(path) as dead:
        assert dead.summary().count == 1 and dead.summary().bytes == 2
        assert dead.all()[0].kind == "invalid"


def test_kinds() -> None:
    now = T0 / 1000
    unknown = batch([reading(0)], gateway="gw-zz")
    _, dead, _, _ = check_message(readings_topic("gw-zz"), unknown, REGISTRY, now)
    assert [d.kind for d in dead] == ["unregistered"] and dead[0].payload == unknown
    foreign = batch([reading(0, flat="X1", building="B2"), reading(1)])
    good, dead, _, _ = check_message(readings_topic("gw-a"), foreign, REGISTRY, now)
    assert len(good) == 1 and [d.kind for d in dead] == ["unregistered"]
    bad_room = batch([{**reading(0), "room": "a b"}])
    _, dead, _, _ = check_message(readings_topic("gw-a"), bad_room, REGISTRY, now)
    assert [d.kind for d in dead] == ["invalid"]


def test_readings_beyond_the_clock_skew_are_dead_lettered_as_future() -> None:
    now_ms = T0 + 5 * 60_000  # readings 0..4 are past, 5 is now, 15 is 10 minutes ahead
    rows = [reading(i) for i in (0, 4, 5, 15, 60 * 24 * 365)]
    good, dead, _, _ = check_message(
        readings_topic("gw-a"), batch(rows), REGISTRY, now_ms / 1000, None, now_ms + 300_000
    )
    assert [r.time_ms for r in good] == [T0, T0 + 4 * 60_000, T0 + 5 * 60_000]
    assert [d.kind for d in dead] == ["future", "future"]
    assert "clock skew" in dead[0].reason


def _registry_file(path: Path, registry: Registry) -> Path:
    path.write_text(registry.model_dump_json())
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cloud.cli", "deadletters", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.servers
def test_unregistered_gateway_is_replayed_once_registered(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    without = Registry.model_validate(
        {
            "buildings": [b.model_dump() for b in REGISTRY.buildings],
            "gateways": [g.model_dump() for g in REGISTRY.gateways if g.id != "gw-b"],
        }
    )
    store_path, dead_path = tmp_path / "store.sqlite", tmp_path / "dead.sqlite"
    rows = [reading(i, flat="X1", building="B2") for i in range(5)]
    store = SqliteStore(store_path)
    with closing(store), DeadLetters(dead_path) as dead:
        ingest = Ingest(store, without, dead, mqtt_url=mosquitto.url, client_id="t-ingest")
        with ingest, MqttConnection(mosquitto.url, "gw-b") as gateway:
            assert ingest.conn.wait_subscribed(10) and gateway.wait_connected(10)
            deadline = time.monotonic() + 20
            gateway.publish(readings_topic("gw-b"), batch(rows, gateway="gw-b"), qos=1)
            while dead.count() < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert store.count(CLIMATE) == 0
        assert [d.kind for d in dead.all()] == ["unregistered"]

    registry = _registry_file(tmp_path / "registry.json", without)
    common = ["--dead-letters", str(dead_path), "--registry", str(registry)]
    still = _cli("replay", *common, "--sqlite", str(store_path))
    assert still.returncode == 0, still.stderr
    assert "0 replayed" in still.stdout and "1 still refused" in still.stdout

    _registry_file(registry, REGISTRY)  # now gw-b is registered
    listed = _cli("list", "--dead-letters", str(dead_path))
    assert "unregistered" in listed.stdout and "gw-b" in listed.stdout
    letter_id = listed.stdout.splitlines()[1].split()[0]
    shown = _cli("show", letter_id, "--dead-letters", str(dead_path))
    assert '"gateway": "gw-b"' in shown.stdout and "replayable" in shown.stdout
    done = _cli("replay", *common, "--sqlite", str(store_path))
    assert done.returncode == 0, done.stderr
    assert "1 replayed, 5 readings stored; 0 still refused" in done.stdout
    with closing(SqliteStore(store_path)) as check:
        frame = check.query(CLIMATE, _t(T0 - 1), _t(T0 + 10**9))
        assert sorted(frame["temperature_c"].round(2)) == [21.0, 21.1, 21.2, 21.3, 21.4]
    with DeadLetters(dead_path) as after:
        assert after.count() == 0


def _t(ms: int) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC)


def test_purge_needs_a_selection_and_deletes_it(tmp_path: Path) -> None:
    path = tmp_path / "dead.sqlite"
    with DeadLetters(path) as dead:
        dead.record([letter(n) for n in range(3)])
    refused = _cli("purge", "--dead-letters", str(path))
    assert refused.returncode == 2 and "--all" in refused.stderr
    assert _cli("purge", "1", "--dead-letters", str(path)).returncode == 0
    with DeadLetters(path) as dead:
        assert [d.reason for d in dead.all()] == ["r1", "r2"]
    assert (
        "2 dødbreve slettet / dead letters purged"
        in _cli("purge", "--all", "--dead-letters", str(path)).stdout
    )
    missing = _cli("list", "--dead-letters", str(tmp_path / "nope.sqlite"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_running_ingest_rereads_a_changed_registry(tmp_path: Path) -> None:
    path = _registry_file(tmp_path / "registry.json", REGISTRY)
    watcher = _RegistryWatcher(path)
    assert watcher.changed() is None
    data = json.loads(path.read_text())
    data["gateways"] = data["gateways"][:1]
    path.write_text(json.dumps(data))
    changed = watcher.changed()
    assert changed is not None and changed.gateway("gw-b") is None
    path.write_text("{broken")
    assert watcher.changed() is None  # the old one stays


@pytest.mark.servers
def test_a_running_ingest_takes_a_new_registry(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    """After `set_registry` (what `indeklima ingest` does when the file changes) the newly
    registered gateway's readings are stored instead of dead-lettered."""
    without = Registry.model_validate(
        {
            "buildings": [b.model_dump() for b in REGISTRY.buildings],
            "gateways": [g.model_dump() for g in REGISTRY.gateways if g.id != "gw-b"],
        }
    )
    store = SqliteStore(tmp_path / "store.sqlite")
    with closing(store), DeadLetters(tmp_path / "dead.sqlite") as dead:
        ingest = Ingest(store, without, dead, mqtt_url=mosquitto.url, client_id="t-reload")
        with ingest, MqttConnection(mosquitto.url, "gw-b") as gateway:
            assert ingest.conn.wait_subscribed(10) and gateway.wait_connected(10)
            deadline = time.monotonic() + 20
            gateway.publish(readings_topic("gw-b"), batch([reading(0, "X1", "B2")], "gw-b"), qos=1)
            while dead.count() < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            ingest.set_registry(REGISTRY)
            gateway.publish(readings_topic("gw-b"), batch([reading(1, "X1", "B2")], "gw-b"), qos=1)
            while store.count(CLIMATE) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        assert dead.count() == 1 and store.count(CLIMATE) == 1
