"""Ingest: MQTT (shared subscription, QoS 1, persistent session, manual acks) → store → ack.

Guarantees (DESIGN.md "Delivery guarantees"):

* a message is acknowledged to the broker only after the store accepted its readings, so a
  killed ingest loses nothing: the broker redelivers to the next one;
* after a store write, ingest publishes an end-to-end `edge.wire.Ack` on the gateway's ``…/ack``
  topic, and only then may the gateway drop the batch; window state messages the same way (the
  ack names their ``seq``; cloud/window_state.py keeps re-deliveries on one store key);
* what can never be stored (malformed, wrong schema, oversize, points the store rejects) goes to
  the dead letters with a reason and is acked, so it never blocks the stream;
* readings refused only because their gateway or flat is not (yet) in the registry, or because
  they are dated further in the future than ``max_future_s``, go to the dead letters as
  *replayable* (kinds ``unregistered``, ``future``): acked, so they do not fill the gateway's
  outbox, but kept whole so that ``indeklima deadletters replay`` stores them once the gateway
  is registered (cloud/deadletter.py);
* each gateway's retained status (``…/status``: outbox, silent sensors, Bluetooth; the last will
  says offline) is stored as a ``gateway_status`` point for the technicians' health page
  (cloud/gateway_status.py); a status that claims another gateway, or is malformed, is a dead
  letter with the reason;
* while the store is down the messages stay unacked and the writer retries with backoff; the
  number of messages in hand is bounded by MQTT 5 Receive Maximum and a bounded queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

import paho.mqtt.client as mqtt

from cloud.deadletter import DeadLetter, DeadLetters, Kind
from cloud.gateway_status import check_status
from cloud.registry import Registry
from cloud.store.base import (
    Point,
    StoreRejected,
    StoreUnavailable,
    TimeSeriesStore,
)
from cloud.window_state import judge_window_state
from edge.lifecycle import Service
from edge.mqtt import Backoff, MqttConnection
from edge.wire import (
    INGEST_SUBSCRIPTION,
    STATE_SUBSCRIPTION,
    STATUS_SUBSCRIPTION,
    Ack,
    Reading,
    WireError,
    ack_topic,
    decode_batch,
    encode,
    flat_id_problem,
    gateway_of_readings_topic,
    gateway_of_status_topic,
    invalid_ids,
)

log = logging.getLogger(__name__)

INGEST_HEALTH: Final = "ingest"
"""Measurement of ingest's own health points (tag ``ingest``: the client id)."""


@dataclass(slots=True)
class IngestStats:
    messages: int = 0
    readings_stored: int = 0
    dead_letters: int = 0
    dead_letters_dropped: int = 0
    """Older dead letters dropped by the dead-letter bounds (cloud/deadletter.py)."""
    store_retries: int = 0
    writes: int = 0
    lag_s: float = 0.0
    """Age of the newest reading in the latest group when it was stored (sensor → store)."""
    first_message_s: float = 0.0
    """perf_counter() when the first message was taken (for benchmarks)."""
    last_stored_s: float = 0.0
    """perf_counter() after the latest store write and acks."""

    def snapshot(self) -> IngestStats:
        return replace(self)

    def point(self, client_id: str, earlier: IngestStats, seconds: float, now_s: float) -> Point:
        """Ingest health as a point of measurement ``ingest`` (the ingest-health dashboard):
        totals since start, the rate since `earlier` and the latest lag."""
        stored = self.readings_stored - earlier.readings_stored
        fields: dict[str, float | int] = {
            "messages": self.messages,
            "readings_stored": self.readings_stored,
            "readings_per_s": stored / seconds if seconds > 0 else 0.0,
            "dead_letters": self.dead_letters,
            "dead_letters_dropped": self.dead_letters_dropped,
            "store_retries": self.store_retries,
            "lag_s": self.lag_s,
        }
        return Point(INGEST_HEALTH, {"ingest": client_id}, fields, int(now_s * 1e9))

    def progress(self, earlier: IngestStats, seconds: float) -> str:
        """One log line: totals, and what happened since `earlier` (``seconds`` ago)."""
        stored = self.readings_stored - earlier.readings_stored
        dead = self.dead_letters - earlier.dead_letters
        retries = self.store_retries - earlier.store_retries
        rate = stored / seconds if seconds > 0 else 0.0
        dropped = (
            f", {self.dead_letters_dropped:,} old ones dropped by the bound"
            if self.dead_letters_dropped
            else ""
        )
        return (
            f"{self.readings_stored:,} readings stored (+{stored:,} in {seconds:.0f} s, "
            f"{rate:,.0f}/s) from {self.messages:,} messages; "
            f"{self.dead_letters:,} dead letters (+{dead:,}{dropped}); "
            f"{self.store_retries:,} store retries (+{retries:,})"
        )


@dataclass(slots=True)
class _Checked:
    """One message after validation: what to store, what to dead-letter, whom to ack."""

    message: mqtt.MQTTMessage
    readings: list[Reading] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    gateway: str | None = None
    batch_id: str | None = None
    points: list[Point] = field(default_factory=list)
    """Window state and gateway status messages' points (cloud/window_state.py,
    cloud/gateway_status.py)."""
    state_seq: int | None = None
    """A window state message's delivery number, acknowledged to `gateway` (`Ack.states`)."""


Verdicts = dict[tuple[str, str, str, str, str], str | None]
"""(gateway, building, flat, room, sensor) → why its readings are not accepted, or None."""
VERDICTS_MAX: Final = 100_000
"""Series verdicts an ingest remembers across messages; it starts over when full."""


def check_message(
    topic: str,
    payload: bytes,
    registry: Registry,
    now_s: float,
    verdicts: Verdicts | None = None,
    max_time_ms: int | None = None,
) -> tuple[list[Reading], list[DeadLetter], str | None, str | None]:
    """Validate one readings message: (good readings, dead letters, gateway, batch id).

    Each series (gateway, building, flat, room, sensor) is checked against `registry` once and
    remembered in `verdicts` (pass the same dict for the same registry to remember across
    messages; by default, within this message only). Readings dated after `max_time_ms` (now
    plus the allowed clock skew; None: no limit) are dead-lettered as ``future``."""
    try:
        gateway = gateway_of_readings_topic(topic)
    except WireError as exc:
        return [], [DeadLetter(now_s, topic, None, exc.reason, payload)], None, None
    try:
        batch = decode_batch(payload)
    except WireError as exc:
        return [], [DeadLetter(now_s, topic, gateway, exc.reason, payload)], gateway, None
    if batch.gateway != gateway:
        reason = f"batch claims gateway {batch.gateway!r} but was published by {gateway!r}"
        return [], [DeadLetter(now_s, topic, gateway, reason, payload)], gateway, batch.batch_id
    if registry.gateway(gateway) is None:
        reason = (
            f"gateway {gateway!r} is not in the registry; register it (indeklima gateway "
            "provision), then indeklima deadletters replay"
        )
        letter = DeadLetter(now_s, topic, gateway, reason, payload, "unregistered")
        return [], [letter], gateway, batch.batch_id
    good: list[Reading] = []
    dead: list[DeadLetter] = []
    if verdicts is None:
        verdicts = {}
    elif len(verdicts) > VERDICTS_MAX:
        verdicts.clear()
    append = good.append
    for reading in batch.readings:
        series = (gateway, reading.building, reading.flat, reading.room, reading.sensor)
        try:
            why = verdicts[series]
        except KeyError:
            why = verdicts[series] = _series_verdict(registry, gateway, reading)
        if why is None:
            if max_time_ms is not None and reading.time_ms > max_time_ms:
                ahead_s = (reading.time_ms - max_time_ms) / 1000
                why = f"dated {ahead_s:.0f} s beyond the allowed clock skew (future)"
                dead.append(DeadLetter(now_s, topic, gateway, why, encode(reading), "future"))
            else:
                append(reading)
        else:
            kind: Kind = "invalid" if why.startswith(_INVALID_ID) else "unregistered"
            dead.append(DeadLetter(now_s, topic, gateway, why, encode(reading), kind))
    return good, dead, gateway, batch.batch_id


_INVALID_ID: Final = "invalid id: "


def _series_verdict(registry: Registry, gateway: str, reading: Reading) -> str | None:
    """Why a reading's series (building, flat, room, sensor) is not accepted, or None. Asked
    once per series and remembered (`check_message`): per reading, one dictionary lookup."""
    if not registry.serves(gateway, reading.building, reading.flat):
        bad_flat = flat_id_problem(reading.flat)  # never registrable: not replayable either
        if bad_flat is not None:
            return _INVALID_ID + bad_flat
        return (
            f"gateway {gateway!r} does not serve building {reading.building!r} "
            f"flat {reading.flat!r} (in the registry)"
        )
    why = invalid_ids(reading)  # registry ids are valid, so this checks room and sensor
    return None if why is None else _INVALID_ID + why


class Ingest(Service):
    """Owns an MQTT connection, a parse thread and `writers` writer threads. ``close()``
    drains what it holds."""

    def __init__(
        self,
        store: TimeSeriesStore,
        registry: Registry,
        dead_letters: DeadLetters,
        *,
        mqtt_url: str,
        client_id: str = "ingest-1",
        batch_max_points: int = 40_000,
        batch_max_age_s: float = 0.2,
        receive_maximum: int = 2_000,
        username: str | None = None,
        password: str | None = None,
        session_expiry_s: int = 3600,
        writers: int = 2,
        max_future_s: float = 600.0,
    ) -> None:
        """``session_expiry_s``: how long the broker keeps queueing for this ingest while it is
        away. Mosquitto hands a shared subscription's messages to offline members too, so a
        retired ingest must not hold a week-long session; what an expired session held is
        re-sent by the gateways, whose outboxes keep every unconfirmed batch.

        ``writers``: groups stored at once. With one, the store sat idle while ingest formatted
        the next group and ingest sat idle while the store finished the last one (~75k
        readings/s here); two overlap them (~100k/s, bench/bench_ingest.py). Groups are acked
        to the broker in the order they were taken, whichever writer finishes first."""
        if writers < 1:
            raise ValueError(f"writers must be at least 1, got {writers}")
        self.store = store
        self.registry = registry
        self._new_registry: Registry | None = None
        self.max_future_s = max_future_s
        self.dead_letters = dead_letters
        self.batch_max_points = batch_max_points
        self.batch_max_age_s = batch_max_age_s
        self.stats = IngestStats()
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue(maxsize=receive_maximum * 2)
        self._checked: queue.Queue[tuple[int, list[_Checked]]] = queue.Queue(maxsize=writers)
        """Numbered parsed groups waiting for a writer: parsing the next group overlaps the
        store's work on this one. Bounded: the parser waits when the writers are behind."""
        self._writers = writers
        self._turn = 0
        """Number of the next group to acknowledge (groups are acked in order)."""
        self._turn_changed = threading.Condition()
        self._verdicts: Verdicts = {}
        """Series checked against `registry` (used by the parse thread only)."""
        self.failed = threading.Event()
        """Set when a worker stopped on an unexpected error; the owner should exit non-zero."""
        self._giving_up = threading.Event()
        """Set when stopping while the store is down: what is in hand is left to the broker."""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.conn = MqttConnection(
            mqtt_url,
            client_id=client_id,
            subscriptions=[
                (INGEST_SUBSCRIPTION, 1),
                (STATE_SUBSCRIPTION, 1),
                (STATUS_SUBSCRIPTION, 1),
            ],
            on_message=self._queue.put,
            manual_ack=True,
            receive_maximum=receive_maximum,
            username=username,
            password=password,
            session_expiry_s=session_expiry_s,
        )

    def start(self) -> None:
        self.conn.start()
        self._threads = [
            threading.Thread(target=self._guarded, args=(self._parse_loop,), name="ingest-parse")
        ] + [
            threading.Thread(
                target=self._guarded, args=(self._write_loop,), name=f"ingest-write-{n + 1}"
            )
            for n in range(self._writers)
        ]
        for thread in self._threads:
            thread.start()

    def _guarded(self, loop: Callable[[], None]) -> None:
        """Run a worker loop; an unexpected error stops the whole ingest (``failed`` is set)
        rather than leaving it running without that worker. What was not acked is redelivered
        by the broker to the next ingest."""
        try:
            loop()
        except Exception:
            log.exception(
                "%s failed; stopping ingest (unacked messages go back to the broker)",
                threading.current_thread().name,
            )
            self.failed.set()
            self._giving_up.set()
            self._stop.set()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop: write and ack what is in hand (if the store takes it), then disconnect."""
        if not self._threads:
            return
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, timeout_s)
        self._threads = []
        self.conn.close()

    # -- writer thread -------------------------------------------------------------------------
    def _take(self) -> list[mqtt.MQTTMessage]:
        """Up to batch_max_points readings' worth of messages, or what came in batch_max_age_s."""
        try:
            first = self._queue.get(timeout=0.1)
        except queue.Empty:
            return []
        messages = [first]
        size = len(first.payload)
        deadline = time.monotonic() + self.batch_max_age_s
        # ~60 bytes per reading on the wire is a safe lower bound for the point count
        while size < self.batch_max_points * 60:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                message = self._queue.get(timeout=remaining)
            except queue.Empty:
                break
            messages.append(message)
            size += len(message.payload)
        return messages

    def _parse_loop(self) -> None:
        """Stage 1: take messages, validate them, build points; hand numbered groups on."""
        number = 0
        while True:
            if self._giving_up.is_set():
                return  # what is in hand stays unacked: the broker redelivers it
            messages = self._take()
            if not messages:
                if self._stop.is_set():
                    return
                continue
            if not self.stats.first_message_s:
                self.stats.first_message_s = time.perf_counter()
            group = [self._check(m) for m in messages]
            while True:
                try:
                    self._checked.put((number, group), timeout=0.1)
                    number += 1
                    break
                except queue.Full:
                    if self._giving_up.is_set() or (
                        self._stop.is_set() and not self._alive("ingest-write")
                    ):
                        return  # unacked: the broker redelivers them

    def _alive(self, prefix: str) -> bool:
        return any(t.name.startswith(prefix) and t.is_alive() for t in self._threads)

    def _write_loop(self) -> None:
        """Stage 2 (one per writer): store a group (retrying while the store is down), then
        acknowledge it when its turn comes. Each group has its turn before the writer takes
        the next, and groups are taken in order, so the oldest group in hand never waits."""
        backoff = Backoff(0.2, 10.0)
        while True:
            try:
                number, group = self._checked.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set() and not self._alive("ingest-parse"):
                    return
                continue
            stored = False
            try:
                stored = not self._giving_up.is_set() and self._store(group, backoff)
            finally:  # always pass the turn on, or later groups would wait forever
                self._in_turn(number, group if stored else None)

    def _store(self, group: list[_Checked], backoff: Backoff) -> bool:
        """Write the group; False when stopping with it unstored (the broker redelivers it and
        everything still in hand: the parser and the other writers give up too)."""
        while not self._write(group):
            with self._turn_changed:
                self.stats.store_retries += 1
            if self._stop.is_set():
                self._giving_up.set()
                log.warning(
                    "stopping with %d messages unstored; the broker will redeliver", len(group)
                )
                return False
            self._stop.wait(backoff.next_delay())
        backoff.reset()
        return True

    def _in_turn(self, number: int, group: list[_Checked] | None) -> None:
        """Acknowledge `group` (None: leave it unacked) once every earlier group has had its
        turn, so the broker gets PUBACKs in the order it sent the messages (MQTT 4.6)."""
        with self._turn_changed:
            self._turn_changed.wait_for(lambda: self._turn == number)
            try:
                if group is not None:
                    self.stats.writes += 1
                    self._acknowledge(group)
            finally:
                self._turn += 1
                self._turn_changed.notify_all()

    def set_registry(self, registry: Registry) -> None:
        """Use `registry` from the next message on (called from any thread)."""
        self._new_registry = registry

    def _check(self, message: mqtt.MQTTMessage) -> _Checked:
        if self._new_registry is not None:
            self.registry, self._new_registry = self._new_registry, None
            self._verdicts = {}
        if message.topic.endswith("/state"):
            return self._check_state(message)
        if message.topic.endswith("/status"):
            return self._check_status(message)
        now = time.time()
        good, dead, gateway, batch_id = check_message(
            message.topic,
            bytes(message.payload),
            self.registry,
            now,
            self._verdicts,
            int((now + self.max_future_s) * 1000),
        )
        return _Checked(message, good, dead, gateway, batch_id)

    def _check_state(self, message: mqtt.MQTTMessage) -> _Checked:
        """A window state message: its points, or a dead letter with the reason. Its ``seq``
        (when the gateway numbered it) is acknowledged on the gateway's ``…/ack`` once stored
        or dead-lettered, like a readings batch: only then does the gateway forget it."""
        payload = bytes(message.payload)
        verdict = judge_window_state(message.topic, payload, self.registry)
        checked = _Checked(message, gateway=verdict.gateway, state_seq=verdict.seq)
        if verdict.refused is None:
            checked.points = verdict.points
        else:
            checked.dead = [
                DeadLetter(time.time(), message.topic, verdict.gateway, verdict.refused, payload)
            ]
        return checked

    def _check_status(self, message: mqtt.MQTTMessage) -> _Checked:
        """A gateway status (cloud/gateway_status.py): one point, or a dead letter with the
        reason. No e2e ack: the gateway sends a fresh status every minute."""
        payload = bytes(message.payload)
        now = time.time()
        try:
            points = check_status(message.topic, payload, self.registry, now, self.max_future_s)
        except WireError as exc:
            gateway = gateway_of_status_topic(message.topic)
            letter = DeadLetter(now, message.topic, gateway, exc.reason, payload)
            return _Checked(message, dead=[letter])
        return _Checked(message, points=points)

    def _write(self, checked: list[_Checked]) -> bool:
        """Store all readings; False when the store is unavailable (retry the same set)."""
        readings = [r for c in checked for r in c.readings]
        points = [p for c in checked for p in c.points]
        gateways = [c.gateway or "" for c in checked for _ in c.readings]
        try:
            if readings:
                self.store.write_readings(readings, gateways)
            if points:
                self.store.write(points)
            return True
        except StoreUnavailable as exc:
            log.warning(
                "store unavailable (%s); holding %d readings and retrying", exc, len(readings)
            )
            return False
        except StoreRejected:
            return self._write_one_by_one(checked)

    def _write_one_by_one(self, checked: list[_Checked]) -> bool:
        """Isolate the message(s) the store rejects; they go to the dead letters."""
        for item in checked:
            if not item.readings and not item.points:
                continue
            try:
                if item.readings:
                    gateways = [item.gateway or ""] * len(item.readings)
                    self.store.write_readings(item.readings, gateways)
                if item.points:
                    self.store.write(item.points)
            except StoreUnavailable:
                return False
            except StoreRejected as exc:
                reason = f"store rejected the readings: {exc}"
                item.dead.append(
                    DeadLetter(
                        time.time(),
                        item.message.topic,
                        item.gateway,
                        reason,
                        bytes(item.message.payload),
                        "rejected",
                    )
                )
                item.readings = []
                item.points = []
        return True

    def _acknowledge(self, checked: list[_Checked]) -> None:
        dead = [d for c in checked for d in c.dead]
        self.stats.dead_letters_dropped += self.dead_letters.record(dead)
        if dead:
            for letter in dead[:5]:
                log.warning("dead letter from %s: %s", letter.gateway or "?", letter.reason)
        acks: dict[str, list[str]] = defaultdict(list)
        state_acks: dict[str, list[int]] = defaultdict(list)
        for item in checked:
            self.stats.messages += 1
            self.stats.readings_stored += len(item.readings)
            if item.gateway is not None and item.batch_id is not None:
                acks[item.gateway].append(item.batch_id)
            if item.gateway is not None and item.state_seq is not None:
                state_acks[item.gateway].append(item.state_seq)
        self.stats.dead_letters += len(dead)
        newest_ms = max((c.readings[-1].time_ms for c in checked if c.readings), default=0)
        if newest_ms:
            self.stats.lag_s = max(0.0, time.time() - newest_ms / 1000)
        for gateway in acks.keys() | state_acks.keys():
            # `states` only for gateways that numbered theirs: older ones never see the field
            ack = Ack(v=1, batch_ids=acks.get(gateway, []), states=state_acks.get(gateway, []))
            self.conn.publish(ack_topic(gateway), encode(ack), qos=1)
        for item in checked:
            self.conn.ack(item.message)
        self.stats.last_stored_s = time.perf_counter()
