"""The gateway's uplink: outbox → MQTT batches (QoS 1) → end-to-end ack → out of the outbox.

A sender thread forms batches (bounded by size and age), publishes them, and re-sends
unconfirmed ones with the same batch id after ``resend_after_s`` or right after a reconnect.
Readings leave the outbox only on ingest's ack (`edge.wire.Ack` on ``…/ack``), never on PUBACK.

Window state messages take the same path: each is published on its window's ``…/state`` topic
in the order it was recorded (at most `MAX_STATES_IN_FLIGHT` awaiting an ack), re-sent with the
same ``seq`` after ``resend_after_s`` or a reconnect, and deleted only when an ack names its
``seq`` (`edge.wire.Ack.states`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import msgspec
import paho.mqtt.client as mqtt

from edge.config import GatewayConfig
from edge.lifecycle import Service
from edge.mqtt import Backoff, MqttConnection
from edge.outbox import Outbox
from edge.wire import (
    GatewayStatus,
    WireError,
    ack_topic,
    decode_ack,
    encode,
    readings_topic,
    status_topic,
    window_state_topic,
)

log = logging.getLogger(__name__)

StatusSource = Callable[[], GatewayStatus]
MAX_STATES_IN_FLIGHT = 500
"""Window state messages sent and not yet acknowledged (nor overdue) at most: a backlog after
an outage goes out at the pace ingest stores it, not all at once."""
RESEND_CHECK_S = 1.0
"""How often the outbox is asked for batches due for a re-send (a SQLite query); new batches
are formed on every tick from in-memory counters."""


def status_line(
    status: GatewayStatus, batches_sent: int, batches_resent: int, states_pending: int = 0
) -> str:
    """The gateway's progress for its journal, beside the retained status it publishes."""
    silent = [s.sensor for s in status.sensors if s.silent]
    line = (
        f"gateway {status.gateway}: {status.outbox_pending:,} readings in the outbox, "
        f"{status.outbox_dropped:,} dropped (outbox full); {batches_sent:,} batches sent, "
        f"{batches_resent:,} re-sent; {len(status.sensors) - len(silent)}/{len(status.sensors)} "
        "sensors reporting"
    )
    if states_pending or status.window_states_dropped:
        line += (
            f"; {states_pending:,} window states awaiting ingest's ack, "
            f"{status.window_states_dropped:,} dropped"
        )
    if silent:
        more = f" and {len(silent) - 5} more" if len(silent) > 5 else ""
        line += f" (silent: {', '.join(silent[:5])}{more})"
    if status.ble is not None:
        how = f" ({status.ble.mode})" if status.ble.mode else ""
        why = f": {status.ble.reason}" if status.ble.reason else ""
        line += f"; Bluetooth {status.ble.adapter} {status.ble.state}{how}{why}"
    return line


class Uplink(Service):
    def __init__(
        self,
        config: GatewayConfig,
        outbox: Outbox,
        status: StatusSource,
        *,
        tick_s: float = 0.05,
        handlers: dict[str, Callable[[bytes], None]] | None = None,
    ) -> None:
        """``handlers``: topic → handler of its payloads (window commands and config; run in
        the network thread, so they must be quick), subscribed beside the acks."""
        self.config = config
        self._handlers = dict(handlers or {})
        self.outbox = outbox
        self._status = status
        self._tick_s = tick_s
        gw = config.gateway_id
        offline = GatewayStatus(v=1, gateway=gw, online=False, time_ms=0)
        self.conn = MqttConnection(
            config.mqtt.url,
            client_id=gw,
            subscriptions=[(ack_topic(gw), 1), *((topic, 1) for topic in self._handlers)],
            on_message=self._on_message,
            on_connected=self._on_connected,
            username=config.mqtt.username,
            password=config.mqtt.password,
            keepalive_s=config.mqtt.keepalive_s,
            will=(status_topic(gw), encode(offline)),
            backoff=Backoff(config.mqtt.reconnect_min_s, config.mqtt.reconnect_max_s),
            protocol=config.mqtt.protocol,
        )
        self._stop = threading.Event()
        self._reconnected = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_batch_at = time.monotonic()
        self._last_status_at = 0.0
        self._last_resend_check = 0.0
        self.batches_sent = 0
        self.batches_resent = 0
        self.acks_received = 0
        self.states_sent = 0
        self.states_resent = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.conn.start()
        self._thread = threading.Thread(target=self._run, name="uplink-sender")
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop sending, publish a clean offline status, disconnect. Safe to call twice."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout_s)
        self._thread = None
        if self.conn.connected:
            status = msgspec.structs.replace(self._status(), online=False)
            info = self.conn.publish(
                status_topic(self.config.gateway_id), encode(status), retain=True
            )
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                log.info("offline status not confirmed by the broker before close")
        self.conn.close()

    def wait_drained(self, timeout_s: float) -> bool:
        """Wait until every reading and window state in the outbox has been confirmed by
        ingest."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.pending == 0 and self.outbox.states_pending == 0:
                return True
            time.sleep(0.05)
        return self.outbox.pending == 0 and self.outbox.states_pending == 0

    # -- MQTT callbacks (network thread) -------------------------------------------------------
    def _on_connected(self) -> None:
        self._reconnected.set()
        self._last_status_at = 0.0

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        handler = self._handlers.get(message.topic)
        if handler is not None:
            try:
                handler(bytes(message.payload))
            except Exception:
                log.exception("handling a message on %s failed", message.topic)
            return
        try:
            ack = decode_ack(bytes(message.payload))
        except WireError as exc:
            log.warning("ignored a bad ack on %s: %s", message.topic, exc.reason)
            return
        removed = self.outbox.confirm(ack.batch_ids) if ack.batch_ids else 0
        states = self.outbox.confirm_states(ack.states)
        self.acks_received += 1
        log.debug(
            "ack for %d batches and %d window states: %d readings and %d states left the outbox",
            len(ack.batch_ids),
            len(ack.states),
            removed,
            states,
        )

    # -- sender thread -------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.pump()
            except Exception:
                log.exception("uplink: sending failed; will retry")

    def pump(self) -> None:
        """One round: status if due, re-sends, then new batches while the window allows."""
        if not self.conn.connected:
            return
        out = self.config.outbox
        gw = self.config.gateway_id
        now = time.monotonic()
        if now - self._last_status_at >= self.config.status_interval_s:
            status = self._status()
            self.conn.publish(status_topic(gw), encode(status), retain=True)
            self._last_status_at = now
            log.info(
                "%s",
                status_line(
                    status, self.batches_sent, self.batches_resent, self.outbox.states_pending
                ),
            )
        resend_check_due = now - self._last_resend_check >= RESEND_CHECK_S
        if self._reconnected.is_set():
            self._reconnected.clear()
            self.outbox.resend_all()
            resend_check_due = True
        self._send_states()
        due = self.outbox.due_batches(out.resend_after_s) if resend_check_due else []
        if resend_check_due:
            self._last_resend_check = now
        for batch in due:
            if not self.conn.connected:
                return
            self._publish(batch.id, batch.message(gw))
            if batch.attempts:
                self.batches_resent += 1
        while (
            self.conn.connected
            and self.outbox.unbatched
            and self.outbox.unconfirmed() < out.max_unconfirmed_batches
            and (
                self.outbox.unbatched >= out.batch_max_readings
                or now - self._last_batch_at >= out.batch_max_age_s
            )
        ):
            fresh = self.outbox.next_batch(out.batch_max_readings)
            if fresh is None:
                break
            self._publish(fresh.id, fresh.message(gw))
            self._last_batch_at = now

    def _send_states(self) -> None:
        """Window states due (never sent by this process, or unacknowledged for
        ``resend_after_s``), oldest first, while fewer than `MAX_STATES_IN_FLIGHT` await an ack.
        Stops at the first publish the client does not take (disconnected): order is kept."""
        gw = self.config.gateway_id
        due = self.outbox.due_states(self.config.outbox.resend_after_s, MAX_STATES_IN_FLIGHT)
        sent: list[int] = []
        try:
            for state in due:
                if not self.conn.connected:
                    break
                topic = window_state_topic(gw, state.window)
                info = self.conn.publish(topic, state.payload, qos=1)
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    log.info("window state %d not queued (%s); retrying later", state.seq, info.rc)
                    break
                sent.append(state.seq)
                if state.attempts:
                    self.states_resent += 1
        finally:
            if sent:
                self.outbox.mark_states_sent(sent)
                self.states_sent += len(sent)

    def _publish(self, batch_id: str, message: bytes) -> None:
        info = self.conn.publish(readings_topic(self.config.gateway_id), message, qos=1)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.outbox.mark_sent(batch_id)
            self.batches_sent += 1
        else:
            log.info("publish of %s not queued (%s); retrying later", batch_id, info.rc)
