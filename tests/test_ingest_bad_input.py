"""Bad input never blocks the stream: each gets a dead letter with a clear reason.

Pure checks of `check_message` (tables + hypothesis), then the same messages through a real
Mosquitto and a running `Ingest` interleaved with good batches that must all be stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest, check_message
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE
from cloud.store.sqlite import SqliteStore
from edge.mqtt import MqttConnection
from edge.wire import MAX_MESSAGE_BYTES, Reading, ReadingsBatch, encode, readings_topic

REGISTRY = Registry.model_validate(
    {
        "buildings": [
            {"id": "B1", "flats": [{"id": "F1", "area_m2": 50.0}, {"id": "F2", "area_m2": 60.0}]},
            {"id": "B2", "flats": [{"id": "X1", "area_m2": 70.0}]},
        ],
        "gateways": [
            {"id": "gw-a", "building": "B1", "flats": ["F1", "F2"]},
            {"id": "gw-b", "building": "B2", "flats": ["X1"]},
        ],
    }
)
T0 = 1_767_225_600_000


def reading(i: int, flat: str = "F1", building: str = "B1") -> dict[str, object]:
    return {
        "time_ms": T0 + i * 60_000,
        "building": building,
        "flat": flat,
        "room": "living",
        "sensor": f"s-{flat}",
        "values": {"temperature_c": 21.0 + i / 10},
    }


def batch(readings: list[dict[str, object]], gateway: str = "gw-a", **extra: object) -> bytes:
    return orjson.dumps(
        {"v": 1, "gateway": gateway, "batch_id": "b1", "readings": readings, **extra}
    )


BAD = [
    ("malformed JSON", b'{"v": 1, "gateway": "gw-a", ', "malformed JSON"),
    ("not an object", b"[1, 2, 3]", "not a JSON object"),
    ("a string that is not UTF-8", b'"\x80"', "malformed JSON"),
    ("wrong schema version", orjson.dumps({"v": 99, "gateway": "gw-a"}), "wrong schema version"),
    ("missing version", orjson.dumps({"gateway": "gw-a"}), "wrong schema version"),
    ("wrong type", batch([{**reading(0), "time_ms": "yesterday"}]), "readings[0].time_ms"),
    ("string as number", batch([{**reading(0), "values": {"co2_ppm": "800"}}]), "schema"),
    ("unknown quantity", batch([{**reading(0), "values": {"radon_bq": 3.0}}]), "radon_bq"),
    ("empty batch", batch([]), "$.readings"),
    ("extra field", batch([reading(0)], colour="red"), "unknown field `colour`"),
    ("oversize", b" " * (MAX_MESSAGE_BYTES + 1), "oversize"),
    ("claims another gateway", batch([reading(0)], gateway="gw-b"), "claims gateway"),
    ("room id with a space", batch([{**reading(0), "room": "living room"}]), "room id"),
    ("sensor id with a newline", batch([{**reading(0), "sensor": "s\n1"}]), "sensor id"),
    ("time before 2000", batch([{**reading(0), "time_ms": 5}]), ">= 946684800000"),
]


@pytest.mark.parametrize(("name", "payload", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_message_dead_lettered_with_reason(name: str, payload: bytes, reason: str) -> None:
    good, dead, _, _ = check_message(readings_topic("gw-a"), payload, REGISTRY, 0.0)
    assert good == []
    assert len(dead) == 1
    assert reason in dead[0].reason, dead[0].reason


def test_foreign_flat_dead_lettered_rest_kept() -> None:
    payload = batch([reading(0), reading(1, flat="X1", building="B2"), reading(2, flat="F2")])
    good, dead, gateway, batch_id = check_message(readings_topic("gw-a"), payload, REGISTRY, 0.0)
    assert [r.flat for r in good] == ["F1", "F2"]
    assert len(dead) == 1 and "does not serve building 'B2' flat 'X1'" in dead[0].reason
    assert (gateway, batch_id) == ("gw-a", "b1")


def test_unknown_gateway_and_bad_topic() -> None:
    payload = batch([reading(0)], gateway="gw-zz")
    _, dead, _, _ = check_message(readings_topic("gw-zz"), payload, REGISTRY, 0.0)
    assert "not in the registry" in dead[0].reason
    _, dead, _, _ = check_message("indeklima/v1/other", payload, REGISTRY, 0.0)
    assert "not a readings topic" in dead[0].reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(payload: bytes) -> None:
    good, dead, _, _ = check_message(readings_topic("gw-a"), payload, REGISTRY, 0.0)
    assert good == [] and len(dead) == 1 and dead[0].reason


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["v", "gateway", "batch_id", "readings", "x"]), json_values, max_size=5
    )
)
def test_random_json_objects_are_classified(head: dict[str, object]) -> None:
    payload = orjson.dumps(head)
    good, dead, _, _ = check_message(readings_topic("gw-a"), payload, REGISTRY, 0.0)
    assert (len(good), len(dead)) in {(0, 1)}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["F1", "F2", "X1"])),
        min_size=1,
        max_size=30,
    )
)
def test_every_reading_is_either_stored_or_dead_lettered(items: list[tuple[int, str]]) -> None:
    rows = [reading(i, flat=f, building="B2" if f == "X1" else "B1") for i, f in items]
    good, dead, _, _ = check_message(readings_topic("gw-a"), batch(rows), REGISTRY, 0.0)
    assert len(good) + len(dead) == len(rows)
    assert all(r.flat != "X1" for r in good)


@pytest.fixture
def ingest_stack(
    tmp_path: Path, mosquitto: MosquittoServer
) -> Iterator[tuple[Ingest, SqliteStore, DeadLetters]]:
    store = SqliteStore(tmp_path / "store.sqlite")
    with closing(store), DeadLetters(tmp_path / "dead.sqlite") as dead:
        ingest = Ingest(store, REGISTRY, dead, mqtt_url=mosquitto.url, client_id="t-ingest")
        with ingest:
            assert ingest.conn.wait_connected(10)
            time.sleep(0.3)
            yield ingest, store, dead


@pytest.mark.servers
def test_stream_keeps_flowing_past_bad_messages(
    ingest_stack: tuple[Ingest, SqliteStore, DeadLetters], mosquitto: MosquittoServer
) -> None:
    ingest, store, dead = ingest_stack
    good_batches = []
    for n in range(5):
        readings = [msgspec.convert(reading(n * 10 + i), Reading) for i in range(10)]
        good_batches.append(
            encode(ReadingsBatch(v=1, gateway="gw-a", batch_id=f"g{n}", readings=readings))
        )
    bad = [payload for _, payload, _ in BAD if len(payload) < MAX_MESSAGE_BYTES]
    with MqttConnection(mosquitto.url, "gw-a") as gateway:
        assert gateway.wait_connected(10)
        for n, good in enumerate(good_batches):
            gateway.publish(readings_topic("gw-a"), bad[n % len(bad)], qos=1).wait_for_publish(5)
            gateway.publish(readings_topic("gw-a"), good, qos=1).wait_for_publish(5)
            # the same batch delivered twice is stored once
            gateway.publish(readings_topic("gw-a"), good, qos=1).wait_for_publish(5)
        for payload in bad[5:]:
            gateway.publish(readings_topic("gw-a"), payload, qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 20
    while ingest.stats.messages < 15 + len(bad) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.count(CLIMATE) == 50
    reasons = [d.reason for d in dead.all()]
    assert len(reasons) == len(bad)
    assert all(reasons)


def test_series_verdicts_remembered_across_messages_per_gateway() -> None:
    verdicts: dict[tuple[str, str, str, str, str], str | None] = {}
    mixed = batch([reading(0, flat="X1", building="B2"), reading(1)])
    for _ in range(2):  # the second time from memory: the same answer
        good, dead, _, _ = check_message(readings_topic("gw-a"), mixed, REGISTRY, 0.0, verdicts)
        assert [r.flat for r in good] == ["F1"]
        assert len(dead) == 1
        assert "does not serve building 'B2' flat 'X1'" in dead[0].reason
    assert len(verdicts) == 2
    # the gateway that does serve X1 is not refused by what was remembered for gw-a
    own = batch([reading(0, flat="X1", building="B2")], gateway="gw-b")
    good, dead, _, _ = check_message(readings_topic("gw-b"), own, REGISTRY, 0.0, verdicts)
    assert [r.flat for r in good] == ["X1"]
    assert dead == []


def test_an_ack_with_a_string_that_is_not_utf8_is_a_wire_error() -> None:
    from edge.wire import WireError, decode_ack

    with pytest.raises(WireError):
        decode_ack(b'{"v": 1, "batch_ids": ["\x80"]}')
