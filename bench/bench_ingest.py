"""Ingest throughput: Mosquitto → ingest → InfluxDB, beside the raw ceilings, in one run.

Target (issue 2): at least 100,000 readings/s with batched messages on this 2-core machine.
Measured, each `REPEATS` times (medians reported; the machine is shared and noisy):

* ``influx_raw``  — InfluxDB's own line-protocol write rate from a plain HTTP client
  (pre-formatted 5,000-line bodies, the same points): the store's ceiling;
* ``mqtt_raw``    — a plain paho QoS 1 subscriber draining the same queued messages
  (no parsing): the broker's ceiling;
* ``ingest``      — `cloud.ingest.Ingest` draining them: parse, validate, check the registry,
  write to InfluxDB, ack to the broker and publish end-to-end acks;
* ``ingest_xN``   — N ``indeklima ingest`` processes on the shared subscription (how ingest
  scales out), timed from the first one's connect to the end-to-end ack of the last batch.

The messages are queued in the broker for a persistent session first, so each consumer is
timed from its first message to its last, alone on the machine with Mosquitto and InfluxDB;
every measurement ends by counting the readings in InfluxDB. The readings' values vary as real
sensors' do, so caches in the path get no easier job than in a building.
Run: ``python bench/bench_ingest.py [--readings N] [--processes N]`` (about 4 minutes with
the defaults: 1,000,000 readings, 5 rounds).
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion

from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest
from cloud.registry import Registry
from cloud.servers import InfluxServer, MosquittoServer
from cloud.store.base import points_from_readings
from cloud.store.lineprotocol import encode_lines
from cloud.store.open import open_store
from edge.mqtt import MqttConnection
from edge.wire import (
    INGEST_SUBSCRIPTION,
    Reading,
    ReadingsBatch,
    ack_topic,
    decode_ack,
    encode,
    readings_topic,
)

BATCH = 500
FLATS = 100
REPEATS = 5


def make_messages(total: int) -> list[bytes]:
    """Batches of 500 readings from 100 sensors with values that vary as real ones do
    (temperature and humidity to 0.01, CO2 in whole ppm; seeded), so no cache in the path
    gets an easier job than in a building."""
    rng = random.Random(1)
    t0 = 1_767_225_600_000  # 2026-01-01
    messages = []
    for b in range(total // BATCH):
        readings = [
            Reading(
                time_ms=t0 + (b * BATCH + i) * 1000,
                building="B1",
                flat=f"F{i % FLATS}",
                room="living",
                sensor=f"s{i % FLATS}",
                values={
                    "temperature_c": rng.randint(1800, 2400) / 100,
                    "humidity_pct": rng.randint(3000, 7000) / 100,
                    "co2_ppm": float(rng.randint(400, 2000)),
                },
            )
            for i in range(BATCH)
        ]
        messages.append(
            encode(ReadingsBatch(v=1, gateway="gw-1", batch_id=f"b{b}", readings=readings))
        )
    return messages


def registry() -> Registry:
    flats = [{"id": f"F{n}", "area_m2": 60.0} for n in range(FLATS)]
    return Registry.model_validate(
        {
            "buildings": [{"id": "B1", "flats": flats}],
            "gateways": [{"id": "gw-1", "building": "B1", "flats": [f["id"] for f in flats]}],
        }
    )


def create_session(url: str, client_id: str) -> None:
    """Connect once with a persistent session and the shared subscription, then leave."""
    with MqttConnection(
        url, client_id, subscriptions=[(INGEST_SUBSCRIPTION, 1)], manual_ack=True
    ) as conn:
        conn.wait_connected(10)
        time.sleep(0.3)


def drop_session(url: str, client_id: str) -> None:
    """End a persistent session: a shared subscription also hands messages to offline sessions
    of its group, so a finished consumer must not stay subscribed."""
    host, port = url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.connect(host, int(port), clean_start=True)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def queue_messages(url: str, messages: list[bytes]) -> None:
    with MqttConnection(url, "bench-publisher") as conn:
        conn.wait_connected(10)
        window = []
        for message in messages:  # a bounded window in flight, as the gateway sends
            window.append(conn.publish(readings_topic("gw-1"), message, qos=1))
            if len(window) >= 20:
                window.pop(0).wait_for_publish(60)
        for info in window:
            info.wait_for_publish(60)


def mqtt_raw(url: str, messages: list[bytes]) -> float:
    client_id = "bench-raw"
    create_session(url, client_id)
    queue_messages(url, messages)
    got = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(message: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        if got == 0:
            first = time.perf_counter()
        got += 1
        conn.ack(message)
        if got == len(messages):
            last = time.perf_counter()
            done.set()

    conn = MqttConnection(
        url,
        client_id,
        subscriptions=[(INGEST_SUBSCRIPTION, 1)],
        on_message=on_message,
        manual_ack=True,
        receive_maximum=2000,
    )
    with conn:
        if not done.wait(300):
            raise RuntimeError(f"raw subscriber got {got}/{len(messages)} messages")
    drop_session(url, client_id)
    return len(messages) * BATCH / (last - first)


def ingest_rate(
    url: str, influx: InfluxServer, db: str, messages: list[bytes], folder: Path
) -> float:
    client_id = f"bench-ingest-{db}"
    create_session(url, client_id)
    queue_messages(url, messages)
    total = len(messages) * BATCH
    store = open_store(influx_url=influx.url, influx_db=db)
    with closing(store), DeadLetters(folder / f"{db}.sqlite") as dead:
        ingest = Ingest(store, registry(), dead, mqtt_url=url, client_id=client_id)
        with ingest:
            deadline = time.monotonic() + 600
            while ingest.stats.readings_stored == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            first = ingest.stats.first_message_s
            while ingest.stats.readings_stored < total and time.monotonic() < deadline:
                time.sleep(0.005)
            last = ingest.stats.last_stored_s
        if ingest.stats.readings_stored != total:
            raise RuntimeError(f"ingest stored {ingest.stats.readings_stored}/{total}")
        drop_session(url, client_id)
        stored = store.count("climate")
        if stored != total:
            raise RuntimeError(f"InfluxDB holds {stored} of {total} readings")
    return total / (last - first)


def ingest_processes(
    url: str, influx: InfluxServer, db: str, messages: list[bytes], folder: Path, n: int
) -> float:
    """N `indeklima ingest` processes on the shared subscription (how ingest scales out), timed
    from the first one's connect to the end-to-end ack of the last batch (which ingest sends
    after the store took it; counted again in InfluxDB afterwards)."""
    ids = [f"bench-{db}-{k}" for k in range(n)]
    for client_id in ids:
        create_session(url, client_id)
    queue_messages(url, messages)  # the broker spreads them over the group's sessions
    total = len(messages) * BATCH
    reg = folder / "registry.json"
    registry().dump_json(reg)
    logs = [folder / f"{client_id}.log" for client_id in ids]
    batch_ids: set[str] = set()
    acked = threading.Event()
    done_at = 0.0

    def on_ack(message: mqtt.MQTTMessage) -> None:
        nonlocal done_at
        batch_ids.update(decode_ack(message.payload).batch_ids)
        if len(batch_ids) == len(messages) and not acked.is_set():
            done_at = time.time()
            acked.set()

    watcher = MqttConnection(
        url, f"bench-acks-{db}", subscriptions=[(ack_topic("gw-1"), 1)], on_message=on_ack
    )
    watcher.start()
    watcher.wait_connected(10)
    time.sleep(0.3)  # subscribed
    procs = []
    for client_id, log in zip(ids, logs, strict=True):
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "cloud.cli",
                        "-v",
                        "ingest",
                        "--mqtt-url",
                        url,
                        "--client-id",
                        client_id,
                        "--registry",
                        str(reg),
                        "--influx-url",
                        influx.url,
                        "--influx-db",
                        db,
                        "--dead-letters",
                        str(folder / f"{client_id}.sqlite"),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        if not acked.wait(600):
            raise RuntimeError(f"ingest processes acked {len(batch_ids)}/{len(messages)} batches")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        watcher.close()
        drop_session(url, f"bench-acks-{db}")
    stored = store_count(influx, db)
    if stored != total:
        raise RuntimeError(f"InfluxDB holds {stored} of {total} readings")
    for client_id in ids:
        drop_session(url, client_id)
    started = min(_connected_at(log, client_id) for log, client_id in zip(logs, ids, strict=True))
    return total / (done_at - started)


def store_count(influx: InfluxServer, db: str) -> int:
    """Every synthetic reading has temperature_c, so one field's count counts them (fast)."""
    answer = requests.get(
        f"{influx.url}/query",
        params={"db": db, "q": 'SELECT count("temperature_c") FROM "climate"'},
        timeout=30,
    ).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def _connected_at(log: Path, client_id: str) -> float:
    for line in log.read_text().splitlines():
        if f"MQTT {client_id} connected" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").astimezone()  # local
            return stamp.timestamp()
    raise RuntimeError(f"{client_id} never connected:\n{log.read_text()[-2000:]}")


def influx_raw(influx: InfluxServer, db: str, messages: list[bytes]) -> float:
    from edge.wire import decode_batch

    readings = [r for m in messages for r in decode_batch(m).readings]
    lines = encode_lines(points_from_readings(readings))
    bodies = ["\n".join(lines[i : i + 5000]).encode() for i in range(0, len(lines), 5000)]
    session = requests.Session()
    session.post(f"{influx.url}/query", params={"q": f'CREATE DATABASE "{db}"'}).raise_for_status()
    t = time.perf_counter()
    for body in bodies:
        session.post(
            f"{influx.url}/write", params={"db": db, "precision": "ns"}, data=body
        ).raise_for_status()
    return len(lines) / (time.perf_counter() - t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="also measure this many ingest processes on the shared subscription",
    )
    args = parser.parse_args()
    messages = make_messages(args.readings)
    multi = f"ingest_x{args.processes}"
    results: dict[str, list[float]] = {"influx_raw": [], "mqtt_raw": [], "ingest": [], multi: []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        MosquittoServer(Path(tmp) / "mq") as broker,
        InfluxServer(Path(tmp) / "influx") as influx,
    ):
        for r in range(REPEATS):
            results["influx_raw"].append(influx_raw(influx, f"raw{r}", messages))
            results["mqtt_raw"].append(mqtt_raw(broker.url, messages))
            results[multi].append(
                ingest_processes(
                    broker.url, influx, f"multi{r}", messages, Path(tmp), args.processes
                )
            )
            results["ingest"].append(
                ingest_rate(broker.url, influx, f"ingest{r}", messages, Path(tmp))
            )
            print(
                f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items()),
                file=sys.stderr,
            )
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"readings per run: {args.readings:,} in messages of {BATCH}")
    for key, value in med.items():
        print(f"{key:11s} median {value:>10,.0f} readings/s")
    print(f"ingest / influx_raw = {med['ingest'] / med['influx_raw']:.2f}")
    print(f"ingest / mqtt_raw   = {med['ingest'] / med['mqtt_raw']:.2f}")
    print(f"{multi} / influx_raw = {med[multi] / med['influx_raw']:.2f}")
    best = max(med["ingest"], med[multi])
    print(f"target 100,000 readings/s: {'met' if best >= 100_000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
