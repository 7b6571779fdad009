"""The broker's gateway users: Mosquitto's dynamic-security plugin, driven over MQTT.

Every gateway gets one dynamic-security client (user name = client id = gateway id) and one role
``gateway-<id>`` that lets it publish its own readings, status, alerts and window state and
subscribe to its own ack, config and window commands — nothing else. The plugin checks
subscriptions when they are made (SUBSCRIBE is refused with 0x87), which an ACL file does not:
see deploy/mosquitto/mosquitto.conf and DESIGN.md "Security of the deployed stack".

The plugin is administered by publishing JSON commands to ``$CONTROL/dynamic-security/v1`` as
its admin user (https://mosquitto.org/documentation/dynamic-security/); that is what
``mosquitto_ctrl dynsec`` does too. The commands are built by pure functions below.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.wire import (
    ID_PATTERN,
    ack_topic,
    alerts_topic,
    config_topic,
    readings_topic,
    status_topic,
    window_cmd_topic,
    window_state_topic,
)

CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = f"{CONTROL_TOPIC}/response"
RESERVED_NAMES: Final = frozenset({"ingest", "jobs", "control", "admin", "indeklima-admin"})
"""User names of services and the plugin's admin: never a gateway's."""


class BrokerError(RuntimeError):
    """The broker refused a command, or could not be reached."""


def role_name(gateway: str) -> str:
    return f"gateway-{gateway}"


def check_gateway_id(gateway: str) -> None:
    """A gateway id is a broker user name and a topic level: the wire's id pattern, and never a
    service's name or an ingest client id."""
    if not re.match(ID_PATTERN, gateway):
        raise ValueError(
            f"ugyldigt gateway-id {gateway!r}: op til 64 bogstaver, tal, '-', '_', '.', ':' / "
            f"invalid gateway id {gateway!r}: up to 64 letters, digits, '-', '_', '.', ':'"
        )
    if gateway in RESERVED_NAMES or re.fullmatch(r"(ingest|jobs|control)(-.*)?", gateway):
        raise ValueError(
            f"{gateway!r} er reserveret til en tjeneste / is reserved for a service: "
            "choose another gateway id"
        )


def gateway_acls(gateway: str) -> list[dict[str, Any]]:
    """The role's ACL entries (pure). Subscribing is allowed literally to the gateway's own
    topics (the window-command filter by pattern, for ``…/windows/+/cmd``)."""
    publish = [
        readings_topic(gateway),
        status_topic(gateway),
        alerts_topic(gateway),
        window_state_topic(gateway, "+"),
    ]
    literal = [ack_topic(gateway), config_topic(gateway)]
    acls: list[dict[str, Any]] = [
        {"acltype": "publishClientSend", "topic": t, "priority": 0, "allow": True} for t in publish
    ]
    acls += [
        {"acltype": "subscribeLiteral", "topic": t, "priority": 0, "allow": True} for t in literal
    ]
    acls.append(
        {
            "acltype": "subscribePattern",
            "topic": window_cmd_topic(gateway, "+"),
            "priority": 0,
            "allow": True,
        }
    )
    return acls


def provision_commands(gateway: str, password: str) -> list[dict[str, Any]]:
    """Commands that create the gateway's role and client (pure)."""
    check_gateway_id(gateway)
    role = role_name(gateway)
    return [
        {
            "command": "createRole",
            "rolename": role,
            "textname": f"indeklima gateway {gateway}",
            "acls": gateway_acls(gateway),
        },
        {
            "command": "createClient",
            "username": gateway,
            "password": password,
            "clientid": gateway,
            "textname": f"indeklima gateway {gateway}",
            "roles": [{"rolename": role, "priority": 0}],
        },
    ]


def new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class BrokerAdmin:
    """The plugin's admin user on the broker's TLS listener (``mqtts://host:8883``)."""

    url: str
    username: str
    password: str
    ca_file: Path | None = None
    timeout_s: float = 10.0

    def execute(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands; return their responses. Raises `BrokerError` when any failed."""
        responses = self._exchange(commands)
        failed = [r for r in responses if r.get("error")]
        if failed:
            detail = "; ".join(f"{r.get('command')}: {r.get('error')}" for r in failed)
            raise BrokerError(f"mægleren afviste / the broker refused: {detail}")
        return responses

    def _exchange(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise BrokerError(f"ugyldig mægler-URL / invalid broker URL: {self.url!r}")
        connacks: queue.Queue[int] = queue.Queue()
        subacks: queue.Queue[int] = queue.Queue()
        answers: queue.Queue[bytes] = queue.Queue()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.username,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        client.username_pw_set(self.username, self.password)
        client.on_connect = lambda _c, _u, _f, rc, _p: connacks.put(rc.value)
        client.on_subscribe = lambda _c, _u, _m, rcs, _p: subacks.put(rcs[0].value)
        client.on_message = lambda _c, _u, msg: answers.put(bytes(msg.payload))
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        if parts.scheme == "mqtts":
            client.tls_set(
                ca_certs=str(self.ca_file) if self.ca_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        try:
            client.connect(parts.hostname, port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerError(
                f"kan ikke nå mægleren / cannot reach the broker at {self.url}: {exc}"
            ) from exc
        client.loop_start()
        try:
            code = self._get(connacks, "CONNACK")
            if code != 0:
                raise BrokerError(
                    f"mægleren afviste admin-login / the broker refused the admin login "
                    f"(reason {code:#x}): check the admin user and password"
                )
            client.subscribe(RESPONSE_TOPIC, qos=1)
            if self._get(subacks, "SUBACK") >= 0x80:
                raise BrokerError(
                    "admin-brugeren må ikke læse svarene / the admin user may not read "
                    f"{RESPONSE_TOPIC}: is the dynamic-security plugin loaded on this listener?"
                )
            correlation = uuid.uuid4().hex
            for command in commands:
                command.setdefault("correlationData", correlation)
            client.publish(CONTROL_TOPIC, json.dumps({"commands": commands}), qos=1)
            while True:
                data = json.loads(self._get(answers, "dynamic-security response"))
                responses: list[dict[str, Any]] = data.get("responses", [])
                if any(r.get("correlationData") == correlation for r in responses):
                    return responses
        finally:
            client.disconnect()
            client.loop_stop()

    def _get(self, box: queue.Queue[Any], what: str) -> Any:
        try:
            return box.get(timeout=self.timeout_s)
        except queue.Empty:
            raise BrokerError(
                f"intet svar fra mægleren / no {what} from the broker at {self.url} "
                f"within {self.timeout_s:.0f} s"
            ) from None

    # -- operations ------------------------------------------------------------------------------
    def provision_gateway(self, gateway: str, password: str) -> None:
        self.execute(provision_commands(gateway, password))

    def set_password(self, username: str, password: str) -> None:
        self.execute([{"command": "setClientPassword", "username": username, "password": password}])

    def remove_gateway(self, gateway: str) -> None:
        self.execute(
            [
                {"command": "deleteClient", "username": gateway},
                {"command": "deleteRole", "rolename": role_name(gateway)},
            ]
        )
