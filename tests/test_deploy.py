"""The deployment files, checked against what they configure.

* ``deploy/mosquitto/mosquitto.conf`` + ``deploy/mosquitto/acl`` run in a REAL Mosquitto 2.0
  (Debian ``mosquitto``), with only paths, ports, the plugin's path and the run-as user rewritten
  for a temporary folder; gateways connect over its TLS listener (a self-signed certificate made
  with ``openssl``) as dynamic-security clients made by ``cloud.broker`` (what ``indeklima gateway
  provision`` uses), services over its plain listener with passwords made by ``mosquitto_passwd``.
  A table of who publishes what, and who may see it, is the specification of the ACL; the attacks
  of issue 14 are in tests/test_broker_confinement.py.
* ``deploy/compose.yaml`` parses and every file it refers to exists (no Docker engine here).
* ``deploy/gateway.example.toml`` loads as a `GatewayConfig`.
* ``deploy/install.sh`` passes ``shellcheck`` where shellcheck is installed; the systemd units pass
  ``systemd-analyze verify`` where it can run.
"""

from __future__ import annotations

import getpass
import queue
import re
import shutil
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.broker import BrokerAdmin
from cloud.servers import _ChildServer, _port_open, free_port
from edge.config import SERIAL_KINDS, GatewayConfig, SensorKind
from edge.wire import (
    INGEST_SUBSCRIPTION,
    STATE_SUBSCRIPTION,
    STATUS_SUBSCRIPTION,
    ack_topic,
    config_topic,
    readings_topic,
    status_topic,
    window_cmd_topic,
    window_state_topic,
)
from tests.stack import installed_command

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "mosquitto.conf"
ACL = DEPLOY / "mosquitto" / "acl"
GATEWAYS = ("gw-a", "gw-b", "gw-c")
SERVICES = ("ingest", "jobs", "control")
ADMIN = "indeklima-admin"
TIMEOUT_S = 10.0


# -- the production broker, in a temporary folder ---------------------------------------------


def render_conf(text: str, folder: Path, plain_port: int, tls_port: int, user: str) -> str:
    """The production configuration with its paths, ports and run-as user made local (pure)."""
    text = text.replace("/etc/mosquitto/", f"{folder}/").replace(
        "/var/lib/mosquitto/", f"{folder}/data/"
    )
    text = re.sub(r"(?m)^listener 1883( \S+)?$", f"listener {plain_port} 127.0.0.1", text)
    text = re.sub(r"(?m)^listener 8883$", f"listener {tls_port} 127.0.0.1", text)
    text = re.sub(r"(?m)^plugin \S+$", f"plugin {dynsec_plugin()}", text)
    return re.sub(r"(?m)^user mosquitto$", f"user {user}", text)


def dynsec_plugin() -> str:
    """This machine's dynamic-security plugin (Debian: /usr/lib/<arch>/…)."""
    found = sorted(Path("/usr/lib").glob("**/mosquitto_dynamic_security.so"))
    return str(found[0]) if found else "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


def test_rendering_keeps_the_production_settings(tmp_path: Path) -> None:
    """The broker below runs the real file: only paths, ports and the user change."""
    original = MOSQUITTO_CONF.read_text()
    rendered = render_conf(original, tmp_path, 1, 2, "someone")
    settings_text = "\n".join(line for line in rendered.splitlines() if not line.startswith("#"))
    assert "/etc/mosquitto" not in settings_text and "/var/lib/mosquitto" not in settings_text
    assert "listener 1 127.0.0.1" in rendered and "listener 2 127.0.0.1" in rendered

    def settings(text: str) -> list[str]:
        return [line.split()[0] for line in text.splitlines() if line and not line.startswith("#")]

    assert settings(rendered) == settings(original)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("per_listener_settings", "true"),
        ("persistence", "true"),
        ("max_queued_messages", "200000"),
        ("max_queued_bytes", "268435456"),
        ("allow_anonymous", "false"),
        ("acl_file", "/etc/mosquitto/acl"),
        ("password_file", "/etc/mosquitto/passwd"),
        ("use_username_as_clientid", "true"),
        ("plugin_opt_config_file", "/var/lib/mosquitto/dynamic-security.json"),
        ("listener", "1883 127.0.0.1"),
    ],
)
def test_production_settings(setting: str, value: str) -> None:
    lines = MOSQUITTO_CONF.read_text().splitlines()
    assert f"{setting} {value}" in lines


class ProductionMosquitto(_ChildServer):
    """deploy/mosquitto/* on two free loopback ports: plain (services) and TLS (gateways)."""

    name = "mosquitto-prod"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.tls_port = free_port()
        (folder / "data").mkdir(exist_ok=True)
        (folder / "certs").mkdir(exist_ok=True)
        shutil.copy(ACL, folder / "acl")
        self.ca_file = folder / "certs" / "server.crt"
        _run(
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(folder / "certs" / "server.key"), "-out", str(self.ca_file),
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        )  # fmt: skip
        passwd = folder / "passwd"
        for user in SERVICES:
            create = [] if passwd.exists() else ["-c"]
            _run("mosquitto_passwd", *create, "-b", str(passwd), user, password(user))
        _run(
            "mosquitto_ctrl", "dynsec", "init", str(folder / "data" / "dynamic-security.json"),
            ADMIN, password(ADMIN),
        )  # fmt: skip
        self._provisioned = False

    @property
    def admin(self) -> BrokerAdmin:
        return BrokerAdmin(
            f"mqtts://127.0.0.1:{self.tls_port}", ADMIN, password(ADMIN), self.ca_file
        )

    def start(self, timeout_s: float = 30.0) -> None:
        """Start, and provision the test gateways the first time (the plugin keeps them)."""
        super().start(timeout_s)
        if not self._provisioned:
            for gateway in GATEWAYS:
                self.admin.provision_gateway(gateway, password(gateway))
            self._provisioned = True

    def _command(self) -> list[str]:
        conf = self.folder / "mosquitto.conf"
        text = render_conf(
            MOSQUITTO_CONF.read_text(), self.folder, self.port, self.tls_port, getpass.getuser()
        )
        conf.write_text(text)
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)]

    def _ready(self) -> bool:
        return _port_open(self.port) and _port_open(self.tls_port)


def password(user: str) -> str:
    return f"secret-{user}"


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


def _missing_tools() -> list[str]:
    found = {
        "mosquitto": shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists(),
        "mosquitto_passwd": shutil.which("mosquitto_passwd"),
        "mosquitto_ctrl": shutil.which("mosquitto_ctrl"),
        "openssl": shutil.which("openssl"),
    }
    return [name for name, path in found.items() if not path]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionMosquitto]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: apt-get install -y mosquitto openssl")
    with ProductionMosquitto(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


# -- clients ---------------------------------------------------------------------------------


@dataclass
class Client:
    paho: mqtt.Client
    messages: queue.Queue[tuple[str, bytes]]
    pubacks: queue.Queue[tuple[int, int]]
    granted: list[int]
    """SUBACK reason code of each subscription, in order (0x87: not authorised)."""
    disconnects: queue.Queue[int]

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the broker's PUBACK reason code (MQTT 5)."""
        info = self.paho.publish(topic, payload, qos=1)
        mid, code = self.pubacks.get(timeout=TIMEOUT_S)
        assert mid == info.mid
        return code

    def wait_for(self, payload: bytes) -> list[bytes]:
        """Every payload received up to and including `payload` (which must arrive)."""
        seen = []
        while True:
            _, received = self.messages.get(timeout=TIMEOUT_S)
            seen.append(received)
            if received == payload:
                return seen


@contextmanager
def connect(
    broker: ProductionMosquitto,
    user: str,
    subscriptions: tuple[str, ...] = (),
    *,
    client_id: str | None = None,
) -> Iterator[Client]:
    """A user's MQTT 5 client: gateways over TLS, services over the plain listener."""
    disconnects: queue.Queue[int] = queue.Queue()
    messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
    pubacks: queue.Queue[tuple[int, int]] = queue.Queue()
    subacks: queue.Queue[list[int]] = queue.Queue()
    connacks: queue.Queue[int] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"{user}-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(user, password(user))
    client.on_connect = lambda _c, _u, _f, rc, _p: connacks.put(rc.value)
    client.on_message = lambda _c, _u, m: messages.put((m.topic, m.payload))
    client.on_publish = lambda _c, _u, mid, rc, _p: pubacks.put((mid, rc.value))
    client.on_subscribe = lambda _c, _u, _mid, rcs, _p: subacks.put([rc.value for rc in rcs])
    client.on_disconnect = lambda _c, _u, _f, rc, _p: disconnects.put(rc.value)
    port = broker.port
    if user not in SERVICES:  # a gateway
        client.tls_set(ca_certs=str(broker.ca_file), cert_reqs=ssl.CERT_REQUIRED)
        port = broker.tls_port
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert connacks.get(timeout=TIMEOUT_S) == 0, f"{user} was refused by the broker"
        granted = []
        for topic_filter in subscriptions:
            client.subscribe(topic_filter, qos=1)
            granted += subacks.get(timeout=TIMEOUT_S)
        yield Client(client, messages, pubacks, granted, disconnects)
    finally:
        client.disconnect()
        client.loop_stop()


# -- the ACL as a table --------------------------------------------------------------------------

SHARED = INGEST_SUBSCRIPTION
ALERTS = "indeklima/v1/alerts/#"
GW = "indeklima/v1/gw"

SENTINEL: dict[str, tuple[str, str]] = {
    "ingest": ("gw-c", readings_topic("gw-c")),
    "control": ("gw-c", status_topic("gw-c")),
    "gw-a": ("ingest", ack_topic("gw-a")),
    "gw-b": ("ingest", ack_topic("gw-b")),
}
"""Per subscriber: a publisher and topic it surely receives. Sent after the probe (whose PUBACK
has come back, so Mosquitto has already queued it), its arrival proves the probe did not come:
no waiting for something not to happen."""

NOT_AUTHORIZED = 0x87


@dataclass(frozen=True)
class AclCase:
    publisher: str
    topic: str
    subscriber: str
    topic_filter: str
    may_publish: bool
    delivered: bool


ACL_CASES: dict[str, AclCase] = {
    "gateway readings reach ingest's shared subscription": AclCase(
        "gw-a", readings_topic("gw-a"), "ingest", SHARED, True, True
    ),
    "gateway cannot publish into another gateway's readings": AclCase(
        "gw-a", readings_topic("gw-b"), "ingest", SHARED, False, False
    ),
    "gateway status reaches control": AclCase(
        "gw-a", status_topic("gw-a"), "control", f"{GW}/+/status", True, True
    ),
    "gateway cannot publish another gateway's status": AclCase(
        "gw-a", status_topic("gw-b"), "control", f"{GW}/+/status", False, False
    ),
    "gateway status reaches ingest's shared subscription": AclCase(
        "gw-a", status_topic("gw-a"), "ingest", STATUS_SUBSCRIPTION, True, True
    ),
    "gateway cannot read another gateway's status": AclCase(
        "gw-b", status_topic("gw-b"), "gw-a", status_topic("gw-b"), True, False
    ),
    "gateway window state reaches control": AclCase(
        "gw-a", f"{GW}/gw-a/windows/w1/state", "control", f"{GW}/+/windows/+/state", True, True
    ),
    "gateway window state reaches ingest's shared subscription": AclCase(
        "gw-a", window_state_topic("gw-a", "w1"), "ingest", STATE_SUBSCRIPTION, True, True
    ),
    # ingest acks a state's number to the gateway of its topic: a forged state would delete
    # another gateway's unsent window states from its outbox
    "gateway cannot publish another gateway's window state": AclCase(
        "gw-a", window_state_topic("gw-b", "w1"), "ingest", STATE_SUBSCRIPTION, False, False
    ),
    "ingest ack reaches its gateway": AclCase(
        "ingest", ack_topic("gw-a"), "gw-a", ack_topic("gw-a"), True, True
    ),
    "gateway cannot read another gateway's acks": AclCase(
        "ingest", ack_topic("gw-b"), "gw-a", ack_topic("gw-b"), True, False
    ),
    "gateway's wildcard subscription sees no other gateway's acks": AclCase(
        "ingest", ack_topic("gw-b"), "gw-a", f"{GW}/+/ack", True, False
    ),
    "gateway cannot forge another gateway's ack": AclCase(
        "gw-a", ack_topic("gw-b"), "gw-b", ack_topic("gw-b"), False, False
    ),
    "gateway cannot ack itself": AclCase(
        "gw-a", ack_topic("gw-a"), "gw-a", ack_topic("gw-a"), False, False
    ),
    "ingest cannot forge readings": AclCase(
        "ingest", readings_topic("gw-a"), "ingest", SHARED, False, False
    ),
    "control set points reach the gateway": AclCase(
        "control", config_topic("gw-a"), "gw-a", config_topic("gw-a"), True, True
    ),
    "control window command reaches the gateway": AclCase(
        "control", window_cmd_topic("gw-a", "w1"), "gw-a", f"{GW}/gw-a/windows/+/cmd", True, True
    ),
    "gateway cannot command another gateway's windows": AclCase(
        "gw-a", window_cmd_topic("gw-b", "w1"), "gw-b", f"{GW}/gw-b/windows/+/cmd", False, False
    ),
    "gateway cannot read another gateway's set points": AclCase(
        "control", config_topic("gw-b"), "gw-a", config_topic("gw-b"), True, False
    ),
    "job alerts reach control": AclCase(
        "jobs", "indeklima/v1/alerts/B1/B1-01", "control", ALERTS, True, True
    ),
    "gateway cannot publish building alerts": AclCase(
        "gw-a", "indeklima/v1/alerts/B1/B1-01", "control", ALERTS, False, False
    ),
    "gateway cannot read building alerts": AclCase(
        "jobs", "indeklima/v1/alerts/B1/B1-01", "gw-a", ALERTS, True, False
    ),
}


@pytest.mark.servers
@pytest.mark.parametrize("case", ACL_CASES.values(), ids=ACL_CASES.keys())
def test_acl(broker: ProductionMosquitto, case: AclCase) -> None:
    sentinel_user, sentinel_topic = SENTINEL[case.subscriber]
    probe = f"probe {uuid.uuid4()}".encode()
    marker = f"marker {uuid.uuid4()}".encode()
    with connect(broker, case.subscriber, (case.topic_filter, sentinel_topic)) as subscriber:
        if case.publisher == case.subscriber:  # one connection per gateway: its id is its name
            code = subscriber.publish(case.topic, probe)
        else:
            with connect(broker, case.publisher) as publisher:
                code = publisher.publish(case.topic, probe)
        assert (code != NOT_AUTHORIZED) == case.may_publish, f"PUBACK reason {code:#x}"
        with connect(broker, sentinel_user) as sentinel:
            assert sentinel.publish(sentinel_topic, marker) == 0
        received = subscriber.wait_for(marker)
    assert (probe in received) == case.delivered


@pytest.mark.servers
def test_shared_subscription_hands_each_batch_to_one_ingest(broker: ProductionMosquitto) -> None:
    """Two ingest processes on the shared subscription: every message reaches exactly one."""
    payloads = [f"batch {i} {uuid.uuid4()}".encode() for i in range(20)]
    with (
        connect(broker, "ingest", (SHARED,)) as first,
        connect(broker, "ingest", (SHARED,)) as second,
    ):
        with connect(broker, "gw-a") as gateway:
            for payload in payloads:
                assert gateway.publish(readings_topic("gw-a"), payload) == 0
        got: list[bytes] = []
        while len(got) < len(payloads):
            for member in (first, second):
                try:
                    got.append(member.messages.get(timeout=TIMEOUT_S / 10)[1])
                except queue.Empty:
                    continue
        per_member = (first.messages.qsize(), second.messages.qsize())
    assert sorted(got) == sorted(payloads)
    assert per_member == (0, 0), "a message was delivered twice"


@pytest.mark.servers
def test_unknown_user_is_refused(broker: ProductionMosquitto) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set("gw-a", "wrong password")
    refused: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: refused.put(rc.value)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert refused.get(timeout=TIMEOUT_S) != 0
    finally:
        client.disconnect()
        client.loop_stop()


# -- compose ---------------------------------------------------------------------------------

INGEST_SERVICES = ("ingest-1", "ingest-2")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?error}`` with no variables set (pure)."""
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "x", text)


def test_compose_has_exactly_the_services_that_exist() -> None:
    """No placeholder for parts not built yet (a web service would be one)."""
    services = _compose()["services"]
    assert set(services) == {
        "mosquitto",
        "influxdb",
        "influx-setup",
        "grafana",
        "jobs",
        *INGEST_SERVICES,
    }


def test_compose_pins_influxdb_1_11() -> None:
    assert _compose()["services"]["influxdb"]["image"] == "influxdb:1.11"


@pytest.mark.parametrize("service", [*INGEST_SERVICES, "jobs"])
def test_compose_commands_parse_with_the_real_cli(service: str) -> None:
    from cloud.cli import build_parser

    command = [_interpolate(part) for part in _compose()["services"][service]["command"]]
    args = build_parser().parse_args(command)
    assert args.influx_url == "http://influxdb:8086"


def test_ingest_processes_have_their_own_client_ids_and_dead_letters() -> None:
    from cloud.cli import build_parser

    seen = set()
    for service in INGEST_SERVICES:
        command = [_interpolate(part) for part in _compose()["services"][service]["command"]]
        args = build_parser().parse_args(command)
        assert args.client_id == service
        seen.add((args.client_id, args.dead_letters))
    assert len({c for c, _ in seen}) == len({d for _, d in seen}) == len(INGEST_SERVICES)


def _bind_sources(node: object) -> Iterator[str]:
    """Host paths of every bind mount and the build's Dockerfile, relative to deploy/."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "volumes" and isinstance(value, list):
                for entry in value:
                    source = _interpolate(entry).split(":", 1)[0]
                    if source.startswith("."):
                        yield source
            elif key == "build" and isinstance(value, dict):
                yield str(Path(value["context"]) / value["dockerfile"])
            else:
                yield from _bind_sources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _bind_sources(item)


def test_compose_refers_only_to_files_that_exist(tmp_path: Path) -> None:
    """Everything mounted is in the repository, except ./secrets/*, which deploy/secrets.sh
    makes (run here into a temporary folder)."""
    secrets = tmp_path / "secrets"
    subprocess.run([DEPLOY / "secrets.sh", secrets], check=True, capture_output=True, timeout=120)
    sources = sorted(set(_bind_sources(_compose())))
    assert len(sources) >= 9, sources
    missing = [
        s
        for s in sources
        if not ((tmp_path / s).exists() if s.startswith("./secrets/") else (DEPLOY / s).exists())
    ]
    assert missing == []


SECRET_NAMES = (
    "INGEST_MQTT_PASSWORD",
    "JOBS_MQTT_PASSWORD",
    "CONTROL_MQTT_PASSWORD",
    "BROKER_ADMIN_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "INFLUX_ADMIN_PASSWORD",
    "INFLUX_WRITER_PASSWORD",
    "INFLUX_JOBS_PASSWORD",
    "INFLUX_READER_PASSWORD",
)


def test_compose_secret_files_are_made_by_the_secrets_script(tmp_path: Path) -> None:
    if _missing_tools():
        pytest.skip("mosquitto_passwd/openssl not installed: apt-get install -y mosquitto openssl")
    secrets = tmp_path / "secrets"
    subprocess.run([DEPLOY / "secrets.sh", secrets], check=True, capture_output=True, timeout=120)
    files = [entry["file"] for entry in _compose()["secrets"].values()]
    assert files and all((tmp_path / f).is_file() for f in files), files


def test_no_password_on_any_command_line() -> None:
    """Passwords reach the services as files (Docker secrets / systemd credentials)."""
    for name, service in _compose()["services"].items():
        command = " ".join(map(str, service.get("command", [])))
        assert "PASSWORD}" not in command and "--mqtt-password=" not in command, name
        assert "--influx-password=" not in command, name
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text()
        assert "PASSWORD}" not in text and "--mqtt-password " not in text, unit.name


def test_compose_keeps_the_stores_private() -> None:
    services = _compose()["services"]
    assert services["mosquitto"]["ports"] == ["8883:8883"], "1883 is never published"
    assert services["influxdb"]["environment"]["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert services["influxdb"]["ports"] == ["127.0.0.1:8086:8086"]


def test_secrets_script_is_idempotent(tmp_path: Path) -> None:
    if _missing_tools():
        pytest.skip("mosquitto_passwd/openssl not installed: apt-get install -y mosquitto openssl")
    command = [DEPLOY / "secrets.sh", tmp_path]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    first = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    second = {p.name: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert first == second
    assert set(first) == {
        "env",
        "passwd",
        "server.crt",
        "server.key",
        "dynamic-security.json",
        *(name.lower() for name in SECRET_NAMES),
    }
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.rglob("*") if p.is_file()}
    assert set(modes.values()) == {0o600}, modes
    users = {line.split(b":")[0] for line in first["passwd"].splitlines()}
    assert users == {b"ingest", b"jobs", b"control"}
    names = {line.split(b"=")[0] for line in first["env"].splitlines()}
    assert b"INGEST_MQTT_PASSWORD" in names and b"JOBS_MQTT_PASSWORD" in names


def test_registry_example_loads() -> None:
    from cloud.registry import Registry

    registry = Registry.load(DEPLOY / "registry.example.toml")
    gateway = GatewayConfig.load(DEPLOY / "gateway.example.toml")
    assert registry.gateway(gateway.gateway_id) is not None
    for sensor in gateway.sensors:
        assert registry.serves(gateway.gateway_id, sensor.building, sensor.flat), sensor.id


def test_dockerfile_installs_the_cloud_extra_on_python_3_11() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"(?m)^FROM python:3\.11-slim$", text)
    assert 'pip install ".[cloud]"' in text


# -- gateway config, units, install script -------------------------------------------------------


def test_example_gateway_config_loads() -> None:
    config = GatewayConfig.load(DEPLOY / "gateway.example.toml")
    kinds = {sensor.kind for sensor in config.sensors}
    assert kinds & SERIAL_KINDS, "no serial sensor in the example"
    assert kinds - SERIAL_KINDS, "no BLE sensor in the example"
    assert len(kinds) >= 5
    assert config.mqtt.username == config.gateway_id, "the broker user name is the gateway id"
    assert config.mqtt.url.startswith("mqtts://"), "gateways use the TLS listener"
    assert SensorKind.BTHOME in kinds


UNITS = {
    "indeklima-gateway.service": "indeklima gateway --config /etc/indeklima/gateway.toml",
    "indeklima-ingest@.service": "--client-id ingest-%i",
    "indeklima-jobs.service": "indeklima jobs run --once",
    "indeklima-jobs.timer": "OnCalendar=",
}


@pytest.mark.parametrize(("unit", "must_contain"), UNITS.items())
def test_systemd_unit(unit: str, must_contain: str) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert must_contain in text
    if unit.endswith(".service"):
        for setting in ("User=indeklima", "NoNewPrivileges=yes", "ProtectSystem=strict"):
            assert setting in text, f"{unit} lacks {setting}"


def test_gateway_unit_restarts_and_keeps_its_outbox() -> None:
    text = (DEPLOY / "systemd" / "indeklima-gateway.service").read_text()
    assert "Restart=always" in text
    assert "StateDirectory=indeklima" in text
    example = (DEPLOY / "gateway.example.toml").read_text()
    assert 'path = "/var/lib/indeklima/outbox.sqlite"' in example


def test_install_script_is_strict() -> None:
    text = (DEPLOY / "install.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="apt-get install -y shellcheck")
@pytest.mark.parametrize("script", ["install.sh", "secrets.sh"])
def test_scripts_are_shellcheck_clean(script: str) -> None:
    result = subprocess.run(
        ["shellcheck", str(DEPLOY / script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify`, with the venv's `indeklima` replaced by the installed one."""
    indeklima = installed_command()
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text().replace("/opt/indeklima/venv/bin/indeklima", indeklima)
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr and "Failed" not in result.stderr, result.stderr


# -- the gateway unit and Bluetooth adapter recovery (issue 12) ----------------------------------


def unit_settings(name: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit, values of repeated keys in order (pure parsing)."""
    settings: dict[str, list[str]] = {}
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_gateway_unit_allows_exactly_what_adapter_recovery_needs() -> None:
    """bluetooth-auto-recovery opens an HCI management socket (AF_BLUETOOTH; CAP_NET_ADMIN),
    writes /dev/rfkill and resets the USB adapter through /dev/bus/usb: the hardening must
    allow those — and no more capabilities than the two it needs."""
    import pyric.utils.rfkill as rfkill
    import usb_devices
    from btsocket import btmgmt_socket

    unit = unit_settings("indeklima-gateway.service")
    assert set(" ".join(unit["AmbientCapabilities"]).split()) == {"CAP_NET_ADMIN", "CAP_NET_RAW"}
    assert set(" ".join(unit["CapabilityBoundingSet"]).split()) == {"CAP_NET_ADMIN", "CAP_NET_RAW"}
    families = " ".join(unit["RestrictAddressFamilies"]).split()
    assert btmgmt_socket.AF_BLUETOOTH == 31 and "AF_BLUETOOTH" in families
    assert "AF_UNIX" in families  # D-Bus to BlueZ
    assert rfkill.dpath == "/dev/rfkill" and "/dev/rfkill rw" in unit["DeviceAllow"]
    # usbfs nodes /dev/bus/usb/BBB/DDD are the "usb_device" character devices (major 189)
    assert str(usb_devices.USB_DEVFS_PATH) == "/dev/bus/usb"
    assert "char-usb_device rw" in unit["DeviceAllow"]
    assert unit["DevicePolicy"] == ["closed"]
    for blocking in ("PrivateDevices", "PrivateNetwork", "PrivateUsers", "ProtectProc"):
        assert unit.get(blocking, ["no"]) == ["no"], f"{blocking} would block adapter recovery"
    for hidden in ("InaccessiblePaths", "TemporaryFileSystem"):
        assert hidden not in unit, f"{hidden} could hide /sys/class/bluetooth or /dev"
    assert "bluetooth" in " ".join(unit["SupplementaryGroups"]).split()
    assert unit["SystemCallFilter"] == ["@system-service"]  # socket, ioctl, openat are in it


def test_udev_rule_gives_the_gateway_rfkill_and_usb_bluetooth_adapters() -> None:
    rules = [
        line
        for line in (DEPLOY / "udev" / "70-indeklima-bluetooth.rules").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(rules) == 2
    rfkill, usb = rules
    assert 'KERNEL=="rfkill"' in rfkill and 'GROUP="indeklima"' in rfkill
    assert 'MODE="0664"' in rfkill
    assert 'ATTR{bDeviceClass}=="e0"' in usb and 'ENV{DEVTYPE}=="usb_device"' in usb
    assert 'GROUP="indeklima"' in usb


def test_install_script_makes_the_venv_with_the_system_python_and_installs_the_rule() -> None:
    text = (DEPLOY / "install.sh").read_text()
    assert "python=/usr/bin/python3" in text
    assert '"$python" -m venv "$prefix/venv"' in text
    assert "sys.version_info < (3, 11)" in text
    assert "70-indeklima-bluetooth.rules" in text and "/etc/udev/rules.d/" in text
    assert "python3-venv" in text and "bluez" in text
