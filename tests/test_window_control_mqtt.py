"""Window control through a real Mosquitto: set points on the retained config topic (refused with
the reason, or applied), one-off commands with expiry and correlation id (executed, or expired
and never executed), and every decision and answer stored by ingest."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from cloud.control import ControlClient
from cloud.deadletter import DeadLetters
from cloud.ingest import Ingest
from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.sqlite import SqliteStore
from cloud.window_state import EVENT_MEASUREMENT, WINDOW_MEASUREMENT
from edge.config import GatewayConfig
from edge.gateway import Gateway
from firmware_sim.devices.serial_responders import ModbusResponder
from firmware_sim.devices.window_controller import WeatherMastEmulator, WindowControllerEmulator

pytestmark = pytest.mark.servers

REG = Registry.model_validate(
    {
        "buildings": [{"id": "B1", "flats": [{"id": "F1", "area_m2": 55.0}]}],
        "gateways": [{"id": "gw-v", "building": "B1", "flats": ["F1"]}],
    }
)
SPEED = 100.0
"""The gateway and the emulated controller run on a clock 100× real time (10 min = 6 s)."""
T0 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)


class FastClock:
    def __init__(self) -> None:
        self._start = time.monotonic()

    def mono(self) -> float:
        return (time.monotonic() - self._start) * SPEED

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.mono())


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_setpoints_and_commands_through_mosquitto(
    tmp_path: Path, mosquitto: MosquittoServer
) -> None:
    clock = FastClock()
    controller = WindowControllerEmulator(1, travel_s=60, clock=clock.mono)
    mast = WeatherMastEmulator(lambda: (False, 3.0, 5.0), address=10)
    with ModbusResponder([controller, mast]) as bus:
        config = GatewayConfig.parse(
            {
                "gateway_id": "gw-v",
                "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.2},
                "outbox": {"path": str(tmp_path / "outbox.sqlite")},
                "ventilation": {
                    "step_s": 0.1,
                    "weather": {"port": bus.port},
                    "rules": {"max_input_age_s": 3600},
                    "setpoints": {"wind_calm_s": 60},
                    "windows": [
                        {
                            "id": "w1",
                            "building": "B1",
                            "flat": "F1",
                            "room": "stue",
                            "driver": "modbus",
                            "port": bus.port,
                            "modbus_address": 1,
                        }
                    ],
                },
            }
        )
        store = SqliteStore(tmp_path / "store.sqlite")
        gateway = Gateway(config, clock=clock.now)
        with (
            closing(store),
            DeadLetters(tmp_path / "dead.sqlite") as dead,
            Ingest(store, REG, dead, mqtt_url=mosquitto.url, client_id="ingest-v"),
            ControlClient(mosquitto.url, client_id="control-v") as control,
        ):
            gateway.start()
            try:
                assert control.conn.wait_connected(10)
                wait_for(lambda: gateway.uplink.conn.connected, 10, "gateway connected")
                # out of range: refused whole, with the reason, and nothing changes
                bad = control.publish_setpoints(
                    "gw-v", [{"building": "B1", "flat": "F1", "values": {"co2_open_ppm": 5000}}]
                )
                (answer,) = control.wait_answer(bad, 10)
                assert answer.outcome == "refused" and "co2_open_ppm" in (answer.reason or "")
                assert gateway.ventilation is not None
                service = gateway.ventilation.service
                assert service.windows["w1"].setpoints.co2_open_ppm == 1000
                good = control.publish_setpoints(
                    "gw-v", [{"building": "B1", "values": {"co2_open_ppm": 900}}], by="tekniker"
                )
                (answer,) = control.wait_answer(good, 10)
                assert answer.outcome == "applied"
                assert service.windows["w1"].setpoints.co2_open_ppm == 900

                # the wind must have been known calm for 60 s of gateway time (0.6 s real)
                def calm_long_enough() -> bool:
                    since = service.windows["w1"].state.wind_calm_since
                    return since is not None and clock.now() - since > timedelta(seconds=90)

                wait_for(calm_long_enough, 20, "calm wind")
                opened = control.send_command("gw-v", "w1", "open", target_pct=60, now=clock.now())
                (answer,) = control.wait_answer(opened, 10)
                assert answer.outcome == "executed"
                wait_for(lambda: controller.position_pct == 60, 10, "window at 60 %")
                # a command that expired on its way (an outage) is answered, never executed
                late = control.send_command(
                    "gw-v", "w1", "close", now=clock.now() - timedelta(hours=2), lifetime_s=3600
                )
                (answer,) = control.wait_answer(late, 10)
                assert answer.outcome == "expired"
                time.sleep(0.5)
                assert controller.position_pct == 60
                # everything the controller decided is stored by ingest
                far = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

                def stored() -> bool:
                    events = store.query(EVENT_MEASUREMENT, *far)
                    return not events.empty and {opened, late, good, bad} <= set(events["ref"])

                wait_for(stored, 20, "window events stored")
                events = store.query(EVENT_MEASUREMENT, *far)
                decisions = events[events["kind"] == "decision"]
                assert "technician" in set(decisions["rule"])
                refs = dict(zip(events["ref"], events["outcome"], strict=False))
                assert (refs[opened], refs[late], refs[bad]) == ("executed", "expired", "refused")
                wait_for(
                    lambda: (
                        60.0 in set(store.query(WINDOW_MEASUREMENT, *far).get("commanded_pct", []))
                    ),
                    10,
                    "commanded opening stored",
                )
                assert dead.count() == 0
            finally:
                gateway.close()


def test_mqtt5_message_expiry_drops_a_command_queued_for_an_offline_gateway(
    mosquitto: MosquittoServer,
) -> None:
    """Besides the expiry in the payload: on MQTT 5 the broker itself drops a command that
    waited longer than its lifetime in an offline gateway's session."""
    from edge.mqtt import MqttConnection
    from edge.wire import window_cmd_topic

    received: list[bytes] = []
    topic = window_cmd_topic("gw-x", "w1")

    def gateway_session() -> MqttConnection:
        return MqttConnection(
            mosquitto.url,
            "gw-x",
            subscriptions=[(topic, 1)],
            on_message=lambda m: received.append(bytes(m.payload)),
            protocol="5",
        )

    with gateway_session() as first:
        assert first.wait_connected(10)
        time.sleep(1.0)  # subscribed; then the gateway goes away (its session stays)
    with ControlClient(mosquitto.url, client_id="control-x") as control:
        assert control.conn.wait_connected(10)
        short = control.send_command("gw-x", "w1", "open", lifetime_s=1)
        long = control.send_command("gw-x", "w1", "close", lifetime_s=60)
    time.sleep(2.0)
    with gateway_session() as again:
        assert again.wait_connected(10)
        wait_for(lambda: received, 10, "the long-lived command")
        time.sleep(0.5)
    ids = [msgspec.json.decode(p)["id"] for p in received]
    assert ids == [long] and short not in ids
