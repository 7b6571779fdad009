"""The gateway when Bluetooth fails, on real parts where they exist here.

* No adapter / no D-Bus / no BlueZ (this machine): bleak's REAL BlueZ backend fails to start;
  BLE is reported unavailable in the retained status (a real Mosquitto) and the log, retried
  with backoff — and the serial sensor (an MH-Z19B emulator on a real pty) keeps reporting.
* An adapter that stops delivering while running (the injected backend's ``wedged``): the scan
  is restarted, then the adapter reset (bounded), and silence alerts name the adapter.
* Battery in status and alerts for every BLE kind; an Aranet4 with Smart Home integrations off
  is its own alert with the fix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud.servers import MosquittoServer, free_port
from edge.config import BleConfig, GatewayConfig, SensorKind
from edge.gateway import Gateway
from edge.runner import run_gateway
from edge.sensors.ble.injected import InjectedAdapters, InjectedScanner
from edge.sensors.ble.source import BleSource
from edge.sensors.ble.supervisor import BleSupervisor
from edge.wire import BleHealth, GatewayStatus, status_topic
from firmware_sim.devices import ble as emu
from firmware_sim.devices.serial_responders import Mhz19bResponder

RUUVI = "C4:7C:8D:6A:01:02"
ARANET = "D0:1F:00:00:0A:01"
BTHOME = "54:48:E6:8F:80:A5"
ATC = "A4:C1:38:00:00:01"
NOW = datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=UTC)


def retained_status(url: str, gateway: str, want: Any, timeout_s: float = 20) -> GatewayStatus:
    """The first status on the broker for which ``want(status)`` holds."""
    import msgspec

    port = int(url.rsplit(":", 1)[1])
    got: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watch-{time.monotonic_ns()}")
    client.on_message = lambda c, u, m: got.put(m.payload)
    client.connect("127.0.0.1", port)
    client.subscribe(status_topic(gateway), qos=1)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                status = msgspec.json.decode(got.get(timeout=0.5), type=GatewayStatus)
            except queue.Empty:
                continue
            if want(status):
                return status
        raise AssertionError("no matching status on the broker")
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.servers
def test_without_bluetooth_ble_is_unavailable_retried_and_serial_goes_on(
    tmp_path: Path, mosquitto: MosquittoServer, caplog: pytest.LogCaptureFixture
) -> None:
    with Mhz19bResponder(lambda: {"co2_ppm": 612.0}) as mhz:
        config = GatewayConfig.parse(
            {
                "gateway_id": "gw-nobt",
                "status_interval_s": 0.5,
                "mqtt": {"url": mosquitto.url, "reconnect_min_s": 0.2},
                "outbox": {"path": str(tmp_path / "outbox.sqlite")},
                # hci97: unavailable also where BlueZ runs (then: "adapter 'hci97' not found")
                "ble": {"adapter": "hci97", "retry_max_s": 1},
                "sensors": [
                    {"id": "ruuvi-1", "kind": "ruuvi", "building": "B1", "flat": "F1",
                     "room": "r", "address": RUUVI},
                    {"id": "co2-1", "kind": "mhz19b", "building": "B1", "flat": "F1",
                     "room": "r", "port": mhz.port, "poll_interval_s": 0.2},
                ],
            }
        )  # fmt: skip
        result: dict[str, Any] = {}

        async def scenario() -> Gateway:
            stop = asyncio.Event()
            task = asyncio.create_task(run_gateway(config, stop))  # bleak's real backend
            loop = asyncio.get_running_loop()
            result["status"] = await loop.run_in_executor(
                None,
                retained_status,
                mosquitto.url,
                "gw-nobt",
                lambda s: (
                    s.ble is not None
                    and s.ble.state == "unavailable"
                    and any(h.sensor == "co2-1" and h.last_seen_ms for h in s.sensors)
                ),
            )
            await asyncio.sleep(3.0)  # let it retry
            stop.set()
            return await task

        with caplog.at_level(logging.INFO):
            gateway = asyncio.run(scenario())
    status: GatewayStatus = result["status"]
    assert status.ble is not None and status.ble.adapter == "hci97"
    assert status.ble.reason  # why, in words: no D-Bus here, "not found" where BlueZ runs
    assert status.online
    assert gateway.outbox.added >= 3  # the serial sensor's readings, BLE down all along
    retries = [r for r in caplog.records if "unavailable (attempt" in r.getMessage()]
    assert len(retries) >= 2, caplog.text  # retried, with backoff
    assert any("utilgængelig" in r.getMessage() for r in caplog.records)  # Danish first


def gateway_config(tmp_path: Path, kinds: dict[str, tuple[SensorKind, str]]) -> GatewayConfig:
    sensors = [
        {"id": sid, "kind": str(kind), "building": "B1", "flat": "F1", "room": "r",
         "address": address, "expected_interval_s": 60}
        for sid, (kind, address) in kinds.items()
    ]  # fmt: skip
    sensors.append({"id": "co2-1", "kind": "mhz19b", "building": "B1", "flat": "F1",
                    "room": "r", "port": "/dev/ttyUSB7", "expected_interval_s": 60})  # fmt: skip
    return GatewayConfig.parse(
        {
            "gateway_id": "gw-batt",
            "mqtt": {"url": f"mqtt://127.0.0.1:{free_port()}"},  # broker down: not needed
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "sensors": sensors,
        }
    )


ALL_KINDS = {
    "ruuvi-1": (SensorKind.RUUVI, RUUVI),
    "aranet-1": (SensorKind.ARANET4, ARANET),
    "bthome-1": (SensorKind.BTHOME, BTHOME),
    "atc-1": (SensorKind.XIAOMI_ATC, ATC),
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_battery_of_every_kind_in_status_and_silence_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", adapters)
    clock = Clock(NOW)
    config = gateway_config(tmp_path, ALL_KINDS)

    async def feed(gateway: Gateway) -> None:
        ble = {s.device: s for s in config.sensors if s.address}
        async with BleSource(ble, gateway.on_sample, backend=InjectedScanner, adapter="b0"):
            hci = adapters.get("b0")
            hci.push(RUUVI, -60, {0x0499: emu.ruuvi_df5(21.0, 45.0, 1012.0, 2410, 1, RUUVI)})
            hci.push(ARANET, -60, {0x0702: emu.aranet4(800, 21.0, 40, 1000.0, 12, ago_s=3)})
            bthome = emu.bthome_v2({"temperature_c": 21.5, "battery_pct": 64}, packet_id=1)
            hci.push(BTHOME, -60, service_data={emu.BTHOME_UUID: bthome})
            atc = emu.atc1441(21.5, 40.0, 77, 2950, 1, ATC)
            hci.push(ATC, -60, service_data={emu.ENV_SENSING_UUID: atc})
            for _ in range(10):
                await asyncio.sleep(0)

    with Gateway(config, clock=clock) as gateway:
        asyncio.run(feed(gateway))
        health = {h.sensor: (h.battery_mv, h.battery_pct) for h in gateway.status().sensors}
        clock.now = NOW + timedelta(minutes=6)
        events = {e.sensor: e for e in gateway.check_health()}
    assert health == {
        "ruuvi-1": (2410.0, None),
        "aranet-1": (None, 12.0),
        "bthome-1": (None, 64.0),
        "atc-1": (2950.0, 77.0),
        "co2-1": (None, None),  # mains powered: no battery
    }
    assert "check its battery (last 2.41 V)" in events["ruuvi-1"].message_en
    assert "tjek batteriet (sidst 2,41 V)" in events["ruuvi-1"].message_da
    assert "check its battery (last 12 %)" in events["aranet-1"].message_en
    assert "check its battery (last 64 %)" in events["bthome-1"].message_en
    assert "check its battery (last 2.95 V, 77 %)" in events["atc-1"].message_en
    assert events["aranet-1"].battery_pct == 12.0 and events["atc-1"].battery_mv == 2950.0
    assert "cable" in events["co2-1"].message_en


def test_aranet_with_smart_home_off_is_its_own_alert_not_a_flat_battery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", adapters)
    clock = Clock(NOW)
    config = gateway_config(tmp_path, {"aranet-1": (SensorKind.ARANET4, ARANET)})
    alerts: list[dict[str, Any]] = []

    async def feed(gateway: Gateway, advert: bytes) -> None:
        ble = {s.device: s for s in config.sensors if s.address}
        async with BleSource(ble, gateway.on_sample, backend=InjectedScanner, adapter="s0",
                             on_problem=gateway.on_problem):  # fmt: skip
            for _ in range(3):  # repeated adverts: one alert
                adapters.get("s0").push(ARANET, -60, {0x0702: advert})
            for _ in range(10):
                await asyncio.sleep(0)

    off = emu.aranet4(None, None, None, None, 80, smart_home=False)
    with Gateway(config, clock=clock) as gateway:
        monkeypatch.setattr(gateway, "_publish_alert", alerts.append)
        asyncio.run(feed(gateway, off))
        status = {h.sensor: h for h in gateway.status().sensors}
        clock.now = NOW + timedelta(minutes=6)
        silent = {e.sensor: e for e in gateway.check_health()}
        asyncio.run(feed(gateway, emu.aranet4(800, 21.0, 40, 1000.0, 90, ago_s=2)))
    problems = [a for a in alerts if a["kind"].startswith("sensor_problem")]
    assert [(a["kind"], a["reason"]) for a in problems] == [
        ("sensor_problem", "smart_home_off"),
        ("sensor_problem_gone", None),
    ]
    assert "Smart Home integrations" in problems[0]["message_en"]
    assert "Aranet Home" in problems[0]["message_da"]
    assert status["aranet-1"].problem == "smart_home_off"
    event = silent["aranet-1"]
    assert event.cause == "problem" and "Smart Home integrations" in event.message_en
    assert "check its battery" not in event.message_en


def supervisor_rig(
    adapters: InjectedAdapters, clock: list[float], resets: list[str], max_resets: int = 2
) -> tuple[BleSource, BleSupervisor, list[BleHealth]]:
    async def recover(name: str, *, gone_silent: bool = False) -> bool:
        assert gone_silent  # scanning but silent: escalate to a USB reset
        resets.append(name)
        return True

    config = GatewayConfig.parse(
        {"gateway_id": "g", "sensors": [{"id": "r1", "kind": "ruuvi", "building": "B",
                                         "flat": "F", "room": "r", "address": RUUVI}]}
    )  # fmt: skip
    source = BleSource({RUUVI: config.sensors[0]}, lambda s: None, backend=InjectedScanner,
                       adapter="w0", recover=recover, monotonic=lambda: clock[0])  # fmt: skip
    reports: list[BleHealth] = []
    ble = BleConfig.parse({"silent_after_s": 60, "max_resets": max_resets})
    supervisor = BleSupervisor(source, ble, reports.append, lambda: NOW, check_s=0.005)
    return source, supervisor, reports


async def until(predicate: Any, what: str) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def test_an_adapter_that_stops_delivering_is_restarted_then_reset_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    adapters = InjectedAdapters()
    monkeypatch.setattr(InjectedScanner, "registry", adapters)
    clock = [1000.0]
    resets: list[str] = []
    source, supervisor, reports = supervisor_rig(adapters, clock, resets)
    df5 = {0x0499: emu.ruuvi_df5(21.0, 45.0, 1012.0, 2900, 1, RUUVI)}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(supervisor.run(stop))
        hci = adapters.get("w0")
        await until(lambda: hci.running, "scanning")
        hci.push(RUUVI, -60, df5)
        await until(lambda: source.last_advert_at == 1000.0, "advert")
        hci.wedged = True  # BlueZ still "scans"; nothing arrives
        steps = [("silent", 1, 0), ("silent", 1, 1), ("silent", 1, 2), ("silent", 2, 2)]
        for n, (state, restarts, resets_done) in enumerate(steps, start=1):
            clock[0] = 1000.0 + 61 * n
            await until(
                lambda r=restarts, s=resets_done: (
                    (supervisor.restarts, supervisor.resets) == (r, s)
                ),
                f"step {n}",
            )
            assert supervisor.state == state
        assert "power-cycle" in (supervisor.reason or "")
        hci.wedged = False
        await until(lambda: hci.running, "restarted")
        hci.push(RUUVI, -60, df5)
        clock[0] += 1
        await until(lambda: supervisor.state == "scanning", "back to scanning")
        stop.set()
        await task

    asyncio.run(scenario())
    assert resets == ["w0", "w0"]  # bounded by max_resets
    assert not source.running  # the supervisor closed what it owned
    assert [r.state for r in reports][:2] == ["starting", "scanning"]
    assert reports[-1].state == "scanning" and reports[-1].resets == 2


def test_silence_alerts_name_the_bluetooth_adapter_not_each_battery(tmp_path: Path) -> None:
    clock = Clock(NOW)
    config = gateway_config(tmp_path, ALL_KINDS)
    with Gateway(config, clock=clock) as gateway:
        for sensor in config.sensors:
            if sensor.address:
                gateway.watchdog.seen(sensor.device, NOW, battery_mv=2500.0)
        gateway.set_ble(
            BleHealth(adapter="hci0", state="silent", reason="no advert for 900 s — restarted")
        )
        status = gateway.status()
        clock.now = NOW + timedelta(minutes=6)
        events = {e.sensor: e for e in gateway.check_health()}
    assert status.ble is not None and status.ble.state == "silent"
    for sid in ALL_KINDS:
        assert "Bluetooth adapter hci0" in events[sid].message_en
        assert "Bluetooth-adapter hci0" in events[sid].message_da
        assert "check its battery" not in events[sid].message_en
        assert events[sid].cause == "bluetooth_adapter"
    assert events["co2-1"].cause == "cable"  # serial sensors are not on the radio


def test_alert_payloads_are_json(tmp_path: Path) -> None:
    """Every alert the gateway publishes encodes (no datetime or enum leaks)."""
    import orjson

    clock = Clock(NOW)
    config = gateway_config(tmp_path, {"aranet-1": (SensorKind.ARANET4, ARANET)})
    sent: list[bytes] = []
    with Gateway(config, clock=clock) as gateway:
        gateway._publish_alert = lambda p: sent.append(orjson.dumps(p))  # type: ignore[method-assign]
        gateway.on_problem(ARANET, "smart_home_off", "off")
        gateway.set_ble(BleHealth(adapter="hci0", state="unavailable", reason="no D-Bus"))
        clock.now = NOW + timedelta(minutes=6)
        gateway.check_health()
    kinds = [json.loads(p)["kind"] for p in sent]
    assert kinds == ["sensor_problem", "ble_adapter", "sensor_silent", "sensor_silent"]


def test_adapter_alerts_only_for_trouble_and_recovery(tmp_path: Path) -> None:
    config = gateway_config(tmp_path, {"ruuvi-1": (SensorKind.RUUVI, RUUVI)})
    sent: list[dict[str, Any]] = []
    with Gateway(config, clock=Clock(NOW)) as gateway:
        gateway._publish_alert = sent.append  # type: ignore[method-assign]
        for state, reason in [
            ("starting", None),
            ("scanning", None),  # no news
            ("silent", "no advert for 900 s"),
            ("silent", "no advert for 900 s — adapter reset 1/3"),  # same state: no news
            ("unavailable", "adapter 'hci0' not found"),
            ("scanning", None),
        ]:
            gateway.set_ble(BleHealth(adapter="hci0", state=state, reason=reason))  # type: ignore[arg-type]
    assert [(a["state"], a["reason"]) for a in sent] == [
        ("silent", "no advert for 900 s"),
        ("unavailable", "adapter 'hci0' not found"),
        ("scanning", None),
    ]


def test_a_flapping_problem_is_announced_at_most_twice_per_half_hour(tmp_path: Path) -> None:
    """A device (or a spoofer using its address) alternating bad and good adverts."""
    config = gateway_config(tmp_path, {"aranet-1": (SensorKind.ARANET4, ARANET)})
    with Gateway(config, clock=Clock(NOW)) as gateway:
        watchdog = gateway.watchdog
        said = []
        for n in range(20):
            at = NOW + timedelta(seconds=10 * n)
            said.append(watchdog.problem(ARANET, at, "smart_home_off", "off"))
            said.append(watchdog.seen(ARANET, at + timedelta(seconds=5), battery_pct=90.0))
        later = NOW + timedelta(minutes=31)
        again = watchdog.problem(ARANET, later, "smart_home_off", "off")
    events = [e for e in said if e is not None]
    assert [e.reason for e in events] == ["smart_home_off", None]
    assert again is not None and again.reason == "smart_home_off"
