"""Window state messages are delivered like readings: kept on the gateway's disk, acknowledged
end to end by ingest after the store has them, deleted only then, stored once.

Real parts: Mosquitto, ingest (`cloud.ingest.Ingest`) and its SQLite store, the gateway
(`edge.gateway.Gateway`) with its outbox and uplink; the window controller and the weather mast
are the emulators on a pty (the hardware boundary). The ventilation steps when the test says so
(``autostep = false``) on a clock the test moves, so every decision is the test's doing.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from cloud.control import ControlClient
from cloud.deadletter import DeadLetters
from cloud.gateway_status import GATEWAY_STATUS
from cloud.ingest import Ingest, _Checked
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import TimeSeriesStore
from cloud.store.sqlite import SqliteStore
from cloud.window_state import EVENT_MEASUREMENT
from edge.config import GatewayConfig
from edge.gateway import Gateway
from edge.mqtt import MqttConnection
from edge.wire import TOPIC_ROOT, ack_topic, decode_window_state
from firmware_sim.devices.serial_responders import ModbusResponder
from firmware_sim.devices.window_controller import WeatherMastEmulator, WindowControllerEmulator
from tests.stack import wait_until

pytestmark = pytest.mark.servers

REG = Registry.model_validate(
    {
        "buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 55.0}]}],
        "gateways": [{"id": "gw-w", "building": "B1", "flats": ["F1"]}],
    }
)
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
FAR = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
TIMEOUT_S = 30.0


@dataclass
class Rig:
    """The emulated hardware, the gateway's config and the clock both share."""

    folder: Path
    port: str = ""
    seconds: float = 0.0
    rain: list[bool] = field(default_factory=lambda: [False])

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.seconds)

    def mono(self) -> float:
        return self.seconds

    def config(self, mqtt_url: str, *, max_states: int = 50_000) -> GatewayConfig:
        return GatewayConfig.parse(
            {
                "gateway_id": "gw-w",
                "mqtt": {"url": mqtt_url, "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
                "outbox": {"path": str(self.folder / "outbox.sqlite"), "resend_after_s": 2.0},
                "ventilation": {
                    "autostep": False,
                    "state_queue_max": max_states,
                    "weather": {"port": self.port},
                    "windows": [
                        {
                            "id": "w1",
                            "building": "B1",
                            "flat": "F1",
                            "room": "stue",
                            "driver": "modbus",
                            "port": self.port,
                            "modbus_address": 1,
                        }
                    ],
                },
            }
        )


@contextlib.contextmanager
def rig(folder: Path) -> Iterator[Rig]:
    r = Rig(folder)
    controller = WindowControllerEmulator(1, travel_s=60, clock=r.mono)
    mast = WeatherMastEmulator(lambda: (r.rain[0], 3.0, 5.0), address=10)
    with ModbusResponder([controller, mast]) as bus:
        r.port = bus.port
        yield r


def decide(gateway: Gateway, r: Rig, steps: int) -> None:
    """`steps` changes of the weather, each a new decision of the window (rain closes; dry, it
    waits for 10 min of calm), plus a refused command every third step: decisions, command
    outcomes and positions."""
    assert gateway.ventilation is not None
    service = gateway.ventilation.service
    for n in range(steps):
        r.seconds += 10
        r.rain[0] = not r.rain[0]
        service.step_once()
        if n % 3 == 0:
            service.on_command("w1", b'{"v":1,"id":"bad-%d"}' % n)


def stored_seqs(store: TimeSeriesStore) -> list[int]:
    """``seq`` of every stored window event row, in the store's time order."""
    events = store.query(EVENT_MEASUREMENT, *FAR)
    return [] if events.empty else [int(s) for s in events["seq"]]


def on_disk(outbox: Path) -> int:
    """State messages in the outbox file, read by a connection of our own."""
    with closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM states").fetchone()[0])


class Monitor:
    """A plain subscriber to the gateway's state topics (persistent session, as the control
    plane's): the order in which the messages arrive."""

    def __init__(self, url: str) -> None:
        self.arrivals: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self.conn = MqttConnection(
            url,
            "monitor-w",
            subscriptions=[(f"{TOPIC_ROOT}/gw/gw-w/windows/+/state", 1)],
            on_message=self._on_message,
        )

    def __enter__(self) -> Monitor:
        self.conn.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.conn.close()

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        state = decode_window_state(bytes(message.payload))
        assert state.seq is not None
        with self._lock:
            self.arrivals.append((state.seq, state.time_ms))

    def first_arrivals(self) -> list[tuple[int, int]]:
        seen: set[int] = set()
        first = []
        with self._lock:
            for seq, time_ms in self.arrivals:
                if seq not in seen:
                    seen.add(seq)
                    first.append((seq, time_ms))
        return first


def test_broker_down_states_kept_on_disk_then_all_delivered_once_in_order(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with (
        rig(tmp_path) as r,
        closing(SqliteStore(tmp_path / "store.sqlite")) as store,
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w"),
        Monitor(mosquitto.url) as monitor,
        Gateway(r.config(mosquitto.url), clock=r.now) as gateway,
    ):
        assert monitor.conn.wait_subscribed(TIMEOUT_S)
        assert gateway.uplink.conn.wait_subscribed(TIMEOUT_S)
        decide(gateway, r, 3)  # flowing before the fault
        before = gateway.outbox.states_added
        wait_until(lambda: len(stored_seqs(store)) == before, TIMEOUT_S, "first states stored")
        mosquitto.stop()
        wait_until(lambda: not gateway.uplink.conn.connected, TIMEOUT_S, "gateway offline")
        decide(gateway, r, 30)  # the windows go on deciding while the broker is down
        total = gateway.outbox.states_added
        assert total - before >= 30  # a decision per weather change, plus outcomes
        pending = gateway.outbox.states_pending
        assert on_disk(tmp_path / "outbox.sqlite") == total - before == pending
        mosquitto.start()
        wait_until(lambda: gateway.outbox.states_pending == 0, TIMEOUT_S, "every state acked")
        wait_until(lambda: len(monitor.first_arrivals()) == total, TIMEOUT_S, "all seen")
        seqs = stored_seqs(store)
        assert sorted(seqs) == list(range(1, total + 1))  # each once: none lost, none doubled
        first = monitor.first_arrivals()
        assert [seq for seq, _ in first] == list(range(1, total + 1))  # sent in order...
        times = [time_ms for _, time_ms in first]
        assert times == sorted(times)  # ...which is the order of time
        assert on_disk(tmp_path / "outbox.sqlite") == 0
        assert dead.count() == 0


def test_states_unsent_at_a_restart_are_delivered_after_it(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    mosquitto.stop()  # the broker is away the whole first run
    with rig(tmp_path) as r:
        with Gateway(r.config(mosquitto.url), clock=r.now) as first:
            decide(first, r, 12)
            recorded = first.outbox.states_added
            # on disk while the gateway still runs: nothing is held in memory, so a kill here
            # loses nothing either (every state is fsynced before `add_state` returns)
            assert recorded >= 12 and on_disk(tmp_path / "outbox.sqlite") == recorded
        assert on_disk(tmp_path / "outbox.sqlite") == recorded
        mosquitto.start()
        with (
            closing(SqliteStore(tmp_path / "store.sqlite")) as store,
            DeadLetters(tmp_path / "dead.sqlite") as dead,
            Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w") as ingest,
        ):
            assert ingest.conn.wait_subscribed(TIMEOUT_S)
            with Gateway(r.config(mosquitto.url), clock=r.now) as second:
                wait_until(lambda: second.outbox.states_pending == 0, TIMEOUT_S, "states acked")
                assert sorted(stored_seqs(store)) == list(range(1, recorded + 1))
                decide(second, r, 1)  # numbering goes on after the restart
                assert second.outbox.states_added > recorded
            assert dead.count() == 0


class CrashBeforeAck(Ingest):
    """The real ingest, failing right after its store write and before any acknowledgement (as
    a process killed there would): its worker stops, `failed` is set, nothing is acked."""

    crashed_with: int | None = None

    def _acknowledge(self, checked: list[_Checked]) -> None:
        if any(c.state_seq is not None for c in checked):
            self.crashed_with = len(stored_seqs(self.store))
            raise RuntimeError("injected: stored, then stopped before acknowledging")
        super()._acknowledge(checked)


def test_ingest_stopping_before_its_ack_leads_to_redelivery_that_stores_nothing_twice(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with (
        rig(tmp_path) as r,
        closing(SqliteStore(tmp_path / "store.sqlite")) as store,
        DeadLetters(tmp_path / "dead.sqlite") as dead,
    ):
        crashing = CrashBeforeAck(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w")
        with Gateway(r.config(mosquitto.url), clock=r.now) as gateway:
            with crashing:
                assert crashing.conn.wait_subscribed(TIMEOUT_S)
                assert gateway.uplink.conn.wait_subscribed(TIMEOUT_S)
                decide(gateway, r, 10)
                total = gateway.outbox.states_added
                wait_until(crashing.failed.is_set, TIMEOUT_S, "ingest to stop before its ack")
            # the store has them and the gateway still holds every one: nobody was told
            assert crashing.crashed_with is not None and crashing.crashed_with > 0
            assert gateway.outbox.states_pending == total
            with Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w") as again:
                # the broker redelivers what the first took (its session; the gateway would
                # re-send after resend_after_s too): only this ingest acks, so every state
                # reached it — those the first had stored as well
                wait_until(lambda: gateway.outbox.states_pending == 0, TIMEOUT_S, "acked")
                assert again.stats.messages >= total
        seqs = stored_seqs(store)
        assert sorted(seqs) == list(range(1, total + 1))  # nothing stored twice, nothing lost
        assert dead.count() == 0


def test_more_states_than_the_bound_keeps_the_newest_and_reports_the_drops(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    with (
        rig(tmp_path) as r,
        closing(SqliteStore(tmp_path / "store.sqlite")) as store,
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w") as ingest,
    ):
        assert ingest.conn.wait_subscribed(TIMEOUT_S)
        mosquitto.stop()
        with Gateway(r.config(mosquitto.url, max_states=10), clock=r.now) as gateway:
            decide(gateway, r, 20)
            total = gateway.outbox.states_added
            assert total > 20
            assert (gateway.outbox.states_pending, gateway.outbox.states_dropped) == (
                10,
                total - 10,
            )
            assert gateway.status().window_states_dropped == total - 10
            mosquitto.start()
            wait_until(lambda: gateway.outbox.states_pending == 0, TIMEOUT_S, "kept ones acked")
            # the policy: the newest ten, the oldest dropped
            assert sorted(stored_seqs(store)) == list(range(total - 9, total + 1))

            def reported() -> bool:
                status = store.query(GATEWAY_STATUS, *FAR)
                return not status.empty and (total - 10) in set(status["window_states_dropped"])

            # the count travels in the gateway's status through the broker and ingest
            wait_until(reported, TIMEOUT_S, "window_states_dropped in the stored status")


def test_malformed_acks_and_states_are_refused_with_a_reason_never_a_traceback(
    tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    bad_acks = [
        b"{nope",
        b'{"v":2,"batch_ids":[],"states":[1]}',
        b'{"v":1,"batch_ids":[],"states":[0]}',
        b'{"v":1,"batch_ids":[],"states":["1"]}',
    ]
    with (
        rig(tmp_path) as r,
        closing(SqliteStore(tmp_path / "store.sqlite")) as store,
        DeadLetters(tmp_path / "dead.sqlite") as dead,
        MqttConnection(mosquitto.url, "forger", session_expiry_s=0) as forger,
        Gateway(r.config(mosquitto.url), clock=r.now) as gateway,
    ):
        assert forger.wait_connected(TIMEOUT_S)
        assert gateway.uplink.conn.wait_subscribed(TIMEOUT_S)
        decide(gateway, r, 3)
        total = gateway.outbox.states_added
        for payload in [*bad_acks, b'{"v":1,"batch_ids":[],"states":[1]}']:
            forger.publish(ack_topic("gw-w"), payload).wait_for_publish(TIMEOUT_S)
        # the good ack came last on the same topic: once it took effect, the bad ones were read
        wait_until(lambda: gateway.outbox.states_pending == total - 1, TIMEOUT_S, "good ack")
        ignored = [m for m in caplog.messages if m.startswith("ignored a bad ack")]
        assert len(ignored) == len(bad_acks)  # each refused with its reason, nothing deleted
        assert "Invalid enum value 2" in ignored[1] and "Expected `int` >= 1" in ignored[2]
        topic = f"{TOPIC_ROOT}/gw/gw-w/windows/w1/state"
        with Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-w") as ingest:
            assert ingest.conn.wait_subscribed(TIMEOUT_S)
            forger.publish(topic, b'{"v":1,"gateway":"gw-w"}').wait_for_publish(TIMEOUT_S)
            wait_until(lambda: gateway.outbox.states_pending == 0, TIMEOUT_S, "states acked")
            wait_until(lambda: dead.count() == 1, TIMEOUT_S, "the bad state's dead letter")
            assert not ingest.failed.is_set()
        (letter,) = dead.all()
        assert letter.topic == topic and "window state: Object missing required field" in (
            letter.reason
        )
        assert sorted(stored_seqs(store)) == list(range(2, total + 1))  # 1 was "acked" above
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]


def test_the_control_plane_keeps_a_re_sent_answer_once(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    """No ingest: the gateway re-sends its answer every ``resend_after_s``; the technician's
    client (`cloud.control.ControlClient`) hears each copy but keeps the answer once."""
    with (
        rig(tmp_path) as r,
        ControlClient(mosquitto.url, client_id="control-w") as control,
        Gateway(r.config(mosquitto.url), clock=r.now) as gateway,
    ):
        assert control.conn.wait_subscribed(TIMEOUT_S)
        assert gateway.uplink.conn.wait_subscribed(TIMEOUT_S)
        late = r.now() - timedelta(hours=2)
        first = control.send_command("gw-w", "w1", "close", now=late, lifetime_s=3600)
        assert [a.outcome for a in control.wait_answer(first, TIMEOUT_S)] == ["expired"]
        wait_until(lambda: gateway.uplink.states_resent > 0, TIMEOUT_S, "a re-send")
        # published after the re-send on the same topic: once it is here, the copy was too
        second = control.send_command("gw-w", "w1", "close", now=late, lifetime_s=3600)
        assert control.wait_answer(second, TIMEOUT_S)
        assert len(control.wait_answer(first, 0)) == 1
