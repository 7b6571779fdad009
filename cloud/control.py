"""The control plane's side of window control: publish set points (retained ``…/config``) and
one-off window commands (``…/windows/<id>/cmd``, expiry and correlation id in the payload and, on
MQTT 5, as the message expiry interval), and collect the gateways' answers from the window
state topics (broker user ``control`` in deploy/mosquitto/acl).

The API's technician actions call this; it owns one MQTT connection (`start`/`close`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any, Final, Literal

import paho.mqtt.client as mqtt

from edge.lifecycle import Service
from edge.mqtt import MqttConnection
from edge.wire import (
    MAX_COMMAND_LIFETIME_MS,
    TOPIC_ROOT,
    SetpointsConfig,
    SetpointScope,
    WindowCommand,
    WindowState,
    WireError,
    config_topic,
    decode_window_state,
    encode,
    window_cmd_topic,
)

log = logging.getLogger(__name__)

ANSWERS_MAX: Final = 10_000
"""Answers (command outcomes, set point verdicts) kept for `wait_answer`; oldest dropped."""


class ControlClient(Service):
    def __init__(
        self,
        mqtt_url: str,
        *,
        client_id: str = "control",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._answers: deque[WindowState] = deque(maxlen=ANSWERS_MAX)
        self._changed = threading.Condition()
        self.conn = MqttConnection(
            mqtt_url,
            client_id,
            subscriptions=[(f"{TOPIC_ROOT}/gw/+/windows/+/state", 1)],
            on_message=self._on_message,
            username=username,
            password=password,
            session_expiry_s=0,
        )

    def start(self) -> None:
        self.conn.start()

    def close(self) -> None:
        self.conn.close()

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        try:
            state = decode_window_state(bytes(message.payload))
        except WireError as exc:
            log.warning("bad window state on %s: %s", message.topic, exc.reason)
            return
        if state.kind in ("command", "config"):
            with self._changed:
                # a gateway re-sends a state until ingest acks it: keep each answer once
                if state.seq is not None and any(
                    a.seq == state.seq and a.gateway == state.gateway for a in self._answers
                ):
                    return
                self._answers.append(state)
                self._changed.notify_all()

    def publish_setpoints(
        self, gateway: str, scopes: list[dict[str, Any]], *, by: str | None = None
    ) -> str:
        """Publish the gateway's whole set point configuration (retained); returns its id."""
        config_id = uuid.uuid4().hex
        message = SetpointsConfig(
            v=1, id=config_id, scopes=[SetpointScope(**s) for s in scopes], by=by
        )
        info = self.conn.publish(config_topic(gateway), encode(message), qos=1, retain=True)
        info.wait_for_publish(timeout=10)
        return config_id

    def send_command(
        self,
        gateway: str,
        window: str,
        action: Literal["open", "close", "release"],
        *,
        target_pct: float = 100.0,
        hold_s: float = 3600.0,
        lifetime_s: float = 120.0,
        by: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """Send a one-off command that expires `lifetime_s` after now; returns its id."""
        issued = now or datetime.now(UTC)
        issued_ms = int(issued.timestamp() * 1000)
        lifetime_ms = int(lifetime_s * 1000)
        if not 0 < lifetime_ms <= MAX_COMMAND_LIFETIME_MS:
            raise ValueError("lifetime_s must be within one day / højst et døgn")
        command = WindowCommand(
            v=1,
            id=uuid.uuid4().hex,
            window=window,
            action=action,
            issued_ms=issued_ms,
            expires_ms=issued_ms + lifetime_ms,
            target_pct=target_pct,
            hold_s=hold_s,
            by=by,
        )
        info = self.conn.publish(
            window_cmd_topic(gateway, window),
            encode(command),
            qos=1,
            expiry_s=max(1, int(lifetime_s)),
        )
        info.wait_for_publish(timeout=10)
        return command.id

    def wait_answer(self, ref: str, timeout_s: float) -> list[WindowState]:
        """The answers naming `ref` (a command id or a config id) that arrived within
        `timeout_s` (all windows' answers for a config; waits for at least one)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                found = [a for a in self._answers if a.ref == ref]
                remaining = deadline - time.monotonic()
                if found or remaining <= 0:
                    return found
                self._changed.wait(remaining)
