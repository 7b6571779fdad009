"""``indeklima gateway provision`` through the real command, against a real Mosquitto run from
deploy/'s files: the new gateway is in the broker, the registry and its own config file, and can
publish its own topics and nothing else."""

from __future__ import annotations

import os
import queue
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cloud.provision import add_to_registry
from cloud.registry import Registry
from edge.config import GatewayConfig
from edge.wire import ack_topic, readings_topic, status_topic
from tests.test_deploy import (
    ADMIN,
    DEPLOY,
    NOT_AUTHORIZED,
    TIMEOUT_S,
    ProductionMosquitto,
    _missing_tools,
    password,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionMosquitto]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: apt-get install -y mosquitto openssl")
    with ProductionMosquitto(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


def _provision(
    broker: ProductionMosquitto, folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    secret = folder / "admin_password"
    if not secret.exists():
        secret.write_text(password(ADMIN) + "\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("INDEKLIMA_BROKER_ADMIN_PASSWORD", None)
    return subprocess.run(
        [
            sys.executable, "-m", "cloud.cli", "gateway", "provision", *args,
            "--registry", str(folder / "registry.toml"),
            "--broker-url", f"mqtts://127.0.0.1:{broker.tls_port}",
            "--ca-file", str(broker.ca_file),
            "--admin-password-file", str(secret),
        ],
        capture_output=True, text=True, timeout=60, env=env, cwd=folder,
    )  # fmt: skip


@pytest.mark.servers
def test_provisioned_gateway_connects_and_is_confined(
    broker: ProductionMosquitto, tmp_path: Path
) -> None:
    shutil.copy(DEPLOY / "registry.example.toml", tmp_path / "registry.toml")
    result = _provision(
        broker, tmp_path, "gw-tranehaven-2", "--building", "tranehaven-1",
        "--flat", "st-tv", "--flat", "1-tv",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    config_file = tmp_path / "gw-tranehaven-2.toml"
    assert config_file.stat().st_mode & 0o777 == 0o600
    config = GatewayConfig.load(config_file)
    assert config.gateway_id == config.mqtt.username == "gw-tranehaven-2"
    assert config.mqtt.password and config.mqtt.password not in result.stdout + result.stderr
    registry = Registry.load(tmp_path / "registry.toml")
    assert registry.serves("gw-tranehaven-2", "tranehaven-1", "1-tv")
    assert not registry.serves("gw-tranehaven-2", "tranehaven-1", "2-th")
    assert "# Registry of buildings" in (tmp_path / "registry.toml").read_text(), "comments kept"

    codes: queue.Queue[int] = queue.Queue()
    pubacks: queue.Queue[int] = queue.Queue()
    subacks: queue.Queue[int] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="whatever", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(config.mqtt.username, config.mqtt.password)
    client.tls_set(ca_certs=str(broker.ca_file), cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.put(rc.value)
    client.on_publish = lambda _c, _u, _m, rc, _p: pubacks.put(rc.value)
    client.on_subscribe = lambda _c, _u, _m, rcs, _p: subacks.put(rcs[0].value)
    client.connect("127.0.0.1", broker.tls_port)
    client.loop_start()
    try:
        assert codes.get(timeout=TIMEOUT_S) == 0
        own, other = "gw-tranehaven-2", "gw-tranehaven-1"
        for topic, allowed in [
            (readings_topic(own), True),
            (status_topic(own), True),
            (readings_topic(other), False),
            (ack_topic(own), False),
        ]:
            client.publish(topic, b"x", qos=1)
            assert (pubacks.get(timeout=TIMEOUT_S) != NOT_AUTHORIZED) == allowed, topic
        for topic_filter, allowed in [(ack_topic(own), True), (ack_topic(other), False)]:
            client.subscribe(topic_filter, qos=1)
            assert (subacks.get(timeout=TIMEOUT_S) < 0x80) == allowed, topic_filter
    finally:
        client.disconnect()
        client.loop_stop()

    again = _provision(
        broker, tmp_path, "gw-tranehaven-2", "--building", "tranehaven-1", "--flat", "st-tv",
        "--out", str(tmp_path / "again.toml"),
    )  # fmt: skip
    assert again.returncode == 2 and "already registered" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.servers
def test_unknown_flat_is_refused_before_the_broker_is_touched(
    broker: ProductionMosquitto, tmp_path: Path
) -> None:
    shutil.copy(DEPLOY / "registry.example.toml", tmp_path / "registry.toml")
    before = (tmp_path / "registry.toml").read_text()
    result = _provision(broker, tmp_path, "gw-z", "--building", "tranehaven-1", "--flat", "9-xx")
    assert result.returncode == 2 and "9-xx" in result.stderr
    assert (tmp_path / "registry.toml").read_text() == before
    assert not (tmp_path / "gw-z.toml").exists()
    # the broker has no gw-z: provisioning it properly now works
    ok = _provision(broker, tmp_path, "gw-z", "--building", "tranehaven-1", "--flat", "st-tv")
    assert ok.returncode == 0, ok.stderr


def test_missing_admin_password_says_what_to_do(tmp_path: Path) -> None:
    shutil.copy(DEPLOY / "registry.example.toml", tmp_path / "registry.toml")
    env = {k: v for k, v in os.environ.items() if k != "INDEKLIMA_BROKER_ADMIN_PASSWORD"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "cloud.cli", "gateway", "provision", "gw-q", "--building",
         "tranehaven-1", "--flat", "st-tv", "--registry", str(tmp_path / "registry.toml")],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--admin-password-file" in result.stderr and "Traceback" not in result.stderr


def test_add_to_json_registry() -> None:
    text = '{"buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 50}]}]}'
    new = add_to_registry(text, ".json", "gw-1", "B1", ["F1"])
    assert Registry.model_validate_json(new).serves("gw-1", "B1", "F1")
    with pytest.raises(ValueError):
        add_to_registry(new, ".json", "gw-1", "B1", ["F1"])
    with pytest.raises(ValueError):
        add_to_registry(text, ".json", "gw-2", "B2", ["F1"])
