"""The gateway's settings: every bad value refused with its path and what is wrong, defaults
filled in, and the same object from TOML, from plain data and back from the demo's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.config import GatewayConfig, SensorConfig, SensorKind

RUUVI = {
    "id": "r1",
    "kind": "ruuvi",
    "building": "B1",
    "flat": "F1",
    "room": "living",
    "address": "c4:7c:8d:6a:01:02",
}
S8 = {**RUUVI, "id": "s8", "kind": "senseair_s8", "address": None, "port": "/dev/ttyUSB0"}


def test_defaults_and_normalisation() -> None:
    config = GatewayConfig.parse({"gateway_id": "gw-1", "sensors": [RUUVI, S8]})
    ruuvi, s8 = config.sensors
    assert ruuvi.kind is SensorKind.RUUVI
    assert ruuvi.address == "C4:7C:8D:6A:01:02"  # upper case, as bleak reports it
    assert s8.modbus_address == 0xFE  # Senseair's any-address
    assert s8.device == "/dev/ttyUSB0@254"
    assert config.outbox.path == Path("outbox.sqlite")
    assert config.outbox.batch_max_readings == 500
    assert config.mqtt.protocol == "auto"


def test_constructed_in_code_with_plain_strings() -> None:
    sensor = SensorConfig(
        id="r", kind="ruuvi", building="B", flat="F", room="r", address="aa:bb:cc:dd:ee:ff"
    )  # type: ignore[arg-type]
    assert sensor.kind is SensorKind.RUUVI
    assert sensor.device == "AA:BB:CC:DD:EE:FF"


BAD = {
    "unknown setting": ({"gateway_id": "gw-1", "colour": "red"}, "unknown field `colour`"),
    "missing gateway id": ({}, "missing required field `gateway_id`"),
    "gateway id with a space": ({"gateway_id": "gw 1"}, "$.gateway_id"),
    "keepalive too short": (
        {"gateway_id": "gw-1", "mqtt": {"keepalive_s": 1}},
        "Expected `int` >= 5 - at `$.mqtt.keepalive_s`",
    ),
    "unknown protocol": ({"gateway_id": "gw-1", "mqtt": {"protocol": "4"}}, "$.mqtt.protocol"),
    "batch too large": (
        {"gateway_id": "gw-1", "outbox": {"batch_max_readings": 6000}},
        "$.outbox.batch_max_readings",
    ),
    "path not text": ({"gateway_id": "gw-1", "outbox": {"path": 3}}, "$.outbox.path"),
    "unknown sensor kind": (
        {"gateway_id": "gw-1", "sensors": [{**RUUVI, "kind": "radon"}]},
        "Invalid enum value 'radon' - at `$.sensors[0].kind`",
    ),
    "BLE sensor without address": (
        {"gateway_id": "gw-1", "sensors": [{**RUUVI, "address": None}]},
        "sensor r1: a ruuvi sensor needs its BLE `address`",
    ),
    "serial sensor without port": (
        {"gateway_id": "gw-1", "sensors": [{**S8, "port": None}]},
        "sensor s8: a senseair_s8 sensor needs `port`",
    ),
    "Modbus address out of range": (
        {"gateway_id": "gw-1", "sensors": [{**S8, "modbus_address": 300}]},
        "$.sensors[0].modbus_address",
    ),
    "same device twice": (
        {"gateway_id": "gw-1", "sensors": [RUUVI, {**RUUVI, "id": "r2"}]},
        "device C4:7C:8D:6A:01:02 is configured twice",
    ),
}


@pytest.mark.parametrize(("data", "reason"), BAD.values(), ids=BAD)
def test_bad_settings_are_refused_with_a_reason(data: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        GatewayConfig.parse(data)
    assert reason in str(caught.value)


def test_load_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ValueError, match=r"missing\.toml not found"):
        GatewayConfig.load(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("gateway_id = \n")
    with pytest.raises(ValueError, match=r"broken\.toml is not valid TOML"):
        GatewayConfig.load(broken)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('gateway_id = "gw-1"\n[mqtt]\nkeepalive_s = 2\n')
    with pytest.raises(ValueError, match=r"wrong\.toml: .*\$\.mqtt\.keepalive_s"):
        GatewayConfig.load(wrong)


def test_toml_and_json_give_the_same_config(tmp_path: Path) -> None:
    toml = tmp_path / "gateway.toml"
    toml.write_text(
        'gateway_id = "gw-1"\n[outbox]\npath = "/var/lib/indeklima/outbox.sqlite"\n'
        '[[sensors]]\nid = "r1"\nkind = "ruuvi"\nbuilding = "B1"\nflat = "F1"\n'
        'room = "living"\naddress = "c4:7c:8d:6a:01:02"\n'
    )
    config = GatewayConfig.load(toml)
    assert config.outbox.path == Path("/var/lib/indeklima/outbox.sqlite")
    again = GatewayConfig.parse(json.loads(config.to_json()))
    assert again == config
