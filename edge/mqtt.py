"""One MQTT connection with a thread that owns it: connect, reconnect with capped, jittered
exponential backoff, persistent session, MQTT 5 with a 3.1.1 fallback.

Shared by the gateway uplink and cloud ingest (the MQTT half of the wire contract). paho-mqtt 2.x,
callback API version 2. The network thread is started by `start()` and stopped by `close()` (safe
to call twice; joins with a timeout).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.lifecycle import Service

log = logging.getLogger(__name__)

SESSION_EXPIRY_S: Final = 7 * 24 * 3600
"""The broker keeps a disconnected client's session (and queues for it) for a week."""

Protocol = Literal["auto", "5", "3.1.1"]
MessageHandler = Callable[[mqtt.MQTTMessage], None]


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://host:1883`` or ``mqtts://host:8883``."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp") or not parts.hostname:
            raise ValueError(
                f"MQTT URL {url!r} must look like mqtt://host:1883 or mqtts://host:8883"
            )
        tls = parts.scheme == "mqtts"
        return cls(parts.hostname, parts.port or (8883 if tls else 1883), tls)


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff with full jitter: delay ~ U(0, min(cap, base·2^n))."""

    base_s: float = 0.5
    cap_s: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2**self.attempt)
        self.attempt = min(self.attempt + 1, 32)
        return self.rng.uniform(self.base_s / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class MqttConnection(Service):
    """A paho client plus the thread that runs it.

    ``subscriptions`` are (re)made on every successful connect; ``on_message`` runs in the
    network thread. With ``manual_ack`` the owner must call `ack` after it has handled a message.
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        *,
        subscriptions: list[tuple[str, int]] | None = None,
        on_message: MessageHandler | None = None,
        on_connected: Callable[[], None] | None = None,
        manual_ack: bool = False,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        will: tuple[str, bytes] | None = None,
        protocol: Protocol = "auto",
        backoff: Backoff | None = None,
        receive_maximum: int | None = None,
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        self.address = BrokerAddress.parse(url)
        self.client_id = client_id
        self.subscriptions = list(subscriptions or [])
        self._on_message = on_message
        self._on_connected = on_connected
        self._manual_ack = manual_ack
        self._credentials = (username, password)
        self._keepalive_s = keepalive_s
        self._will = will
        self._use_v5 = protocol != "3.1.1"
        self._fallback_allowed = protocol == "auto"
        self._backoff = backoff or Backoff()
        self._receive_maximum = receive_maximum
        self._session_expiry_s = session_expiry_s
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._pending_subscriptions: set[int | None] = set()
        """Set when the broker answered the last of `subscriptions` (SUBACK) on this connection."""
        self._thread: threading.Thread | None = None
        self.connects = 0
        self.client = self._make_client()

    # -- lifecycle -------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5 if self._use_v5 else MQTTProtocolVersion.MQTTv311,
            clean_session=None if self._use_v5 else False,
            reconnect_on_failure=False,
            manual_ack=self._manual_ack,
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        if self.address.tls:
            client.tls_set()
        username, password = self._credentials
        if username:
            client.username_pw_set(username, password)
        if self._will is not None:
            topic, payload = self._will
            client.will_set(topic, payload, qos=1, retain=True)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        return client

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"mqtt-{self.client_id}", daemon=False
        )
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Disconnect cleanly (no last will) and join the network thread."""
        if self._thread is None:
            return
        self._stop.set()
        if self._connected.is_set():
            self.client.disconnect()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("MQTT thread %s did not stop within %.0f s", self.client_id, timeout_s)
        self._thread = None
        self._connected.clear()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def wait_subscribed(self, timeout_s: float) -> bool:
        """Until the broker has confirmed every subscription (it queues for us from then)."""
        return self._subscribed.wait(timeout_s)

    @property
    def protocol_name(self) -> str:
        return "5" if self._use_v5 else "3.1.1"

    # -- operations (thread-safe in paho) ---------------------------------------------------
    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        expiry_s: int | None = None,
    ) -> mqtt.MQTTMessageInfo:
        properties = None
        if self._use_v5 and expiry_s is not None:
            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.MessageExpiryInterval = expiry_s
        return self.client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    def ack(self, message: mqtt.MQTTMessage) -> None:
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)

    # -- network thread ---------------------------------------------------------------------
    def _connect_once(self) -> bool:
        properties = None
        if self._use_v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self._session_expiry_s
            if self._receive_maximum is not None:
                properties.ReceiveMaximum = self._receive_maximum
        try:
            if self._use_v5:
                code = self.client.connect(
                    self.address.host,
                    self.address.port,
                    self._keepalive_s,
                    clean_start=False,
                    properties=properties,
                )
            else:  # 3.1.1: the persistent session is clean_session=False on the client
                code = self.client.connect(self.address.host, self.address.port, self._keepalive_s)
        except OSError as exc:
            log.info(
                "MQTT %s: cannot reach %s:%d (%s)",
                self.client_id,
                self.address.host,
                self.address.port,
                exc,
            )
            return False
        return code == MQTTErrorCode.MQTT_ERR_SUCCESS

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._connect_once():
                    while not self._stop.is_set() or self._connected.is_set():
                        code = self.client.loop(timeout=0.1)
                        if code != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            break
            except Exception:  # the network thread must never die silently
                log.exception("MQTT %s: unexpected error; reconnecting", self.client_id)
            self._connected.clear()
            if self._stop.is_set():
                break
            delay = self._backoff.next_delay()
            log.info("MQTT %s: reconnecting in %.1f s", self.client_id, delay)
            self._stop.wait(delay)
        if self.client.socket() is not None:  # stopped while connecting: leave cleanly
            self.client.disconnect()
            self.client.loop(timeout=0.1)

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        # 1: a 3.1.1 broker's "unacceptable protocol version"; 132 (0x84): MQTT 5's
        # "unsupported protocol version"
        if reason.is_failure or reason.value == 1:
            if self._use_v5 and self._fallback_allowed and reason.value in (1, 132):
                log.warning("broker does not speak MQTT 5; falling back to 3.1.1")
                self._use_v5 = False
                self.client = self._make_client()
            else:
                log.error("MQTT %s: broker refused the connection: %s", self.client_id, reason)
            return
        self.connects += 1
        self._backoff.reset()
        self._subscribed.clear()
        self._pending_subscriptions = {
            client.subscribe(topic, qos)[1] for topic, qos in self.subscriptions
        }
        if not self.subscriptions:
            self._subscribed.set()
        self._connected.set()
        log.info(
            "MQTT %s connected (MQTT %s, session present: %s)",
            self.client_id,
            self.protocol_name,
            flags.session_present,
        )
        if self._on_connected is not None:
            self._on_connected()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stop.is_set():
            log.info("MQTT %s disconnected: %s", self.client_id, reason)

    def _handle_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [code for code in reason_codes if code.is_failure]
        if refused:
            log.error("MQTT %s: the broker refused a subscription: %s", self.client_id, refused)
            return
        self._pending_subscriptions.discard(mid)
        if not self._pending_subscriptions:
            self._subscribed.set()
            log.info("MQTT %s subscribed", self.client_id)

    def _handle_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        if self._on_message is not None:
            self._on_message(message)
