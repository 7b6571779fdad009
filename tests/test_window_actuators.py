"""Window actuators: the Modbus RTU driver against an emulated window controller on a real pty,
the relay driver on gpiozero's mock pins, and the control service end to end — commanded vs
reported after the travel time → ``window`` points → the actuator-fault job's verdict."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import serial

from cloud.jobs.actuator_job import actuator_faults
from cloud.store.base import Point, points_frame
from cloud.window_state import points_from_window_state
from edge.outbox import Outbox
from edge.sensors.serial.errors import NoAnswer, SerialFault
from edge.ventilation.actuators import (
    ModbusWindow,
    RelayWindow,
    Status,
    decode_registers,
)
from edge.ventilation.control import Rule
from edge.ventilation.service import VentilationService
from edge.ventilation.settings import VentilationConfig
from edge.ventilation.weather import Weather, decode_weather, read_weather
from edge.wire import Reading, WindowState, decode_window_state
from firmware_sim.devices.serial_faults import Fault
from firmware_sim.devices.serial_responders import ModbusResponder
from firmware_sim.devices.window_controller import (
    Mechanical,
    WeatherMastEmulator,
    WindowControllerEmulator,
)

T0 = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """One clock for the service (UTC datetime) and the emulators (monotonic seconds)."""

    seconds: float = 0.0

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.seconds)

    def mono(self) -> float:
        return self.seconds


@dataclass
class Bus:
    clock: FakeClock
    controllers: dict[int, WindowControllerEmulator]
    mast: WeatherMastEmulator
    port: str
    line: serial.Serial
    weather: list[tuple[bool, float, float]] = field(default_factory=lambda: [(False, 3.0, 5.0)])


@contextlib.contextmanager
def bus(addresses: tuple[int, ...] = (1,)) -> Iterator[Bus]:
    clock = FakeClock()
    controllers = {a: WindowControllerEmulator(a, travel_s=60, clock=clock.mono) for a in addresses}
    holder: list[tuple[bool, float, float]] = [(False, 3.0, 5.0)]
    mast = WeatherMastEmulator(lambda: holder[0], address=10)
    with ModbusResponder([*controllers.values(), mast]) as responder:
        line = serial.Serial(responder.port, 19200, timeout=0.3)
        try:
            yield Bus(clock, controllers, mast, responder.port, line, holder)
        finally:
            line.close()


def test_register_decoding() -> None:
    report = decode_registers([1000, 455, int(Status.MOVING | Status.STUCK), 7])
    assert (report.target_pct, report.actual_pct, report.manual_count) == (100.0, 45.5, 7)
    assert report.fault == "motor blokeret / motor stuck"
    with pytest.raises(SerialFault, match="out of range"):
        decode_registers([0, 1001, 0, 0])
    assert decode_weather([1, 123, 0xFFCE, 0]) == Weather(True, 12.3, -5.0)
    assert decode_weather([0, 0, 0, 0b110]) == Weather(False, None, None)


def test_modbus_window_moves_over_its_travel_time() -> None:
    with bus() as b:
        window = ModbusWindow(b.line, 1, travel_s=60)
        window.command(100)
        b.clock.seconds = 30
        half = window.report()
        assert (half.target_pct, half.actual_pct, half.status) == (100.0, 50.0, Status.MOVING)
        b.clock.seconds = 61
        done = window.report()
        assert (done.actual_pct, done.status, done.fault) == (100.0, Status(0), None)


@pytest.mark.parametrize(
    ("mechanical", "reported", "fault"),
    [
        (Mechanical.STUCK, 0.0, "motor blokeret / motor stuck"),
        (Mechanical.SLOW, 25.0, None),
        (Mechanical.DEAD, 0.0, None),
    ],
)
def test_modbus_window_mechanical_faults(
    mechanical: Mechanical, reported: float, fault: str | None
) -> None:
    with bus() as b:
        b.controllers[1].mechanical = mechanical
        window = ModbusWindow(b.line, 1, travel_s=60)
        window.command(100)
        b.clock.seconds = 60
        report = window.report()
        assert (report.actual_pct, report.fault) == (reported, fault)


def test_modbus_window_that_does_not_answer() -> None:
    with bus() as b:
        b.controllers[1].faults.inject(Fault.SILENCE, None)
        window = ModbusWindow(b.line, 1, travel_s=60, timeout_s=0.05)
        with pytest.raises(NoAnswer):
            window.report()
        b.controllers[1].faults.clear()
        b.controllers[1].faults.inject(Fault.CRC_ERROR, 1)  # one bad answer: the retry copes
        assert window.report().actual_pct == 0.0


def test_wall_switch_is_seen_as_a_manual_operation() -> None:
    with bus() as b:
        window = ModbusWindow(b.line, 1, travel_s=60)
        before = window.report().manual_count
        b.controllers[1].press_wall_switch(40)
        after = window.report()
        assert (after.manual_count, after.target_pct) == (before + 1, 40.0)


def test_weather_mast_over_the_bus() -> None:
    with bus() as b:
        b.weather[0] = (True, 14.2, -3.5)
        assert read_weather(b.line, 10) == Weather(True, 14.2, -3.5)


# -- relays on gpiozero's mock pins ------------------------------------------------------------


@pytest.fixture
def mock_pins() -> Iterator[object]:
    from gpiozero.pins.mock import MockFactory

    factory = MockFactory()
    yield factory
    factory.close()


def test_relay_window_interlocked_contacts_and_estimate(mock_pins: object) -> None:
    from gpiozero.pins.mock import MockFactory

    assert isinstance(mock_pins, MockFactory)
    clock = FakeClock()
    window = RelayWindow(
        "GPIO17",
        "GPIO27",
        travel_s=60,
        closed_pin="GPIO22",
        pin_factory=mock_pins,
        clock=clock.mono,
    )
    open_pin, close_pin, end = (mock_pins.pin(n) for n in ("GPIO17", "GPIO27", "GPIO22"))
    end.drive_low()  # closed end stop pressed (pull-up: low = pressed)
    assert window.report().actual_pct == 0.0
    window.command(50)
    assert (open_pin.state, close_pin.state) == (True, False)
    clock.seconds = 15
    assert window.report().actual_pct == 25.0
    window.command(0)  # reverses: the open contact is released before close is made
    assert (open_pin.state, close_pin.state) == (False, True)
    window.close()
    window.close()  # twice is fine
    assert (open_pin.state, close_pin.state) == (False, False)


def test_relay_window_end_stop_shows_a_window_that_did_not_close(mock_pins: object) -> None:
    from gpiozero.pins.mock import MockFactory

    assert isinstance(mock_pins, MockFactory)
    clock = FakeClock()
    window = RelayWindow(
        "GPIO5", "GPIO6", travel_s=60, closed_pin="GPIO13", pin_factory=mock_pins, clock=clock.mono
    )
    mock_pins.pin("GPIO13").drive_high()  # end stop not pressed: the window is not closed
    report = window.report()
    assert (report.actual_pct, report.status) == (100.0, Status.POSITION_LOST)
    window.close()


# -- the service: commanded vs reported → window points → actuator-fault verdict ---------------


def _config(port: str) -> VentilationConfig:
    return VentilationConfig.parse(
        {
            "weather": {"port": port, "modbus_address": 10},
            "windows": [
                {
                    "id": f"w{a}",
                    "building": "B1",
                    "flat": f"F{a}",
                    "room": "stue",
                    "driver": "modbus",
                    "port": port,
                    "modbus_address": a,
                    "travel_s": 60,
                }
                for a in (1, 2)
            ],
        }
    )


def test_service_commands_reports_and_feeds_the_actuator_fault_job() -> None:
    with bus((1, 2)) as b:
        b.controllers[2].mechanical = Mechanical.STUCK
        config = _config(b.port)
        sent: list[WindowState] = []
        actuators = {f"w{a}": ModbusWindow(b.line, a, travel_s=60) for a in (1, 2)}
        service = VentilationService(
            config,
            "gw1",
            actuators,  # type: ignore[arg-type]
            lambda: read_weather(b.line, 10),
            lambda _w, m: sent.append(m) or True,
            clock=b.clock.now,
        )
        b.clock.seconds = 700  # the wind has been calm for 10 min only after this long
        service.step_once()
        for a in (1, 2):
            service.on_reading(
                Reading(
                    time_ms=int(b.clock.now().timestamp() * 1000),
                    building="B1",
                    flat=f"F{a}",
                    room="stue",
                    sensor=f"s{a}",
                    values={"co2_ppm": 1400.0, "humidity_pct": 50.0},
                )
            )
        b.clock.seconds = 1300
        service.step_once()
        decisions = [m for m in sent if m.kind == "decision" and m.commanded_pct]
        assert {(m.window, m.rule, m.commanded_pct) for m in decisions} == {
            ("w1", Rule.CO2_HIGH.value, 100.0),
            ("w2", Rule.CO2_HIGH.value, 100.0),
        }
        b.clock.seconds = 1300 + 63
        service.step_once()
        positions = {m.window: m for m in sent if m.kind == "position"}
        assert positions["w1"].reported_pct == 100.0 and positions["w1"].fault is None
        assert positions["w2"].reported_pct == 0.0 and positions["w2"].fault
        points: list[Point] = [p for m in sent for p in points_from_window_state(m)]
        window_points = [p for p in points if p.measurement == "window"]
        frame = points_frame(
            [p.time_ns for p in window_points],
            {k: [p.tags[k] for p in window_points] for k in ("building", "flat", "window")},
            {
                f: [p.fields.get(f) for p in window_points]  # type: ignore[misc]
                for f in ("commanded_pct", "reported_pct", "travel_s")
            },
        )
        verdict = actuator_faults(frame, b.clock.now())
        assert dict(zip(verdict["window"], verdict["fault"], strict=True)) == {
            "w1": False,
            "w2": True,
        }
        service.close()


def test_service_closes_when_the_weather_mast_goes_silent() -> None:
    with bus((1,)) as b:
        config = VentilationConfig.parse(_raw_one(b.port))
        sent: list[WindowState] = []
        service = VentilationService(
            config,
            "gw1",
            {"w1": ModbusWindow(b.line, 1, travel_s=60, timeout_s=0.05)},
            lambda: read_weather(b.line, 10, timeout_s=0.05),
            lambda _w, m: sent.append(m) or True,
            clock=b.clock.now,
        )
        service.on_command(
            "w1",
            b'{"v":1,"id":"c1","window":"w1","action":"open","issued_ms":%d,"expires_ms":%d}'
            % (int(T0.timestamp() * 1000), int(T0.timestamp() * 1000) + 3_600_000),
        )
        b.clock.seconds = 700
        service.step_once()  # calm for less than 10 min: the technician's open is blocked
        service.step_once()
        b.clock.seconds = 1400
        service.step_once()
        assert b.controllers[1]._target == 100.0
        b.mast.faults.inject(Fault.SILENCE, None)
        b.clock.seconds = 1400 + 125  # older than max_input_age_s (120 s)
        service.step_once()
        last = [m for m in sent if m.kind == "decision"][-1]
        assert (last.rule, last.commanded_pct) == (Rule.WEATHER_MISSING.value, 0.0)
        assert b.controllers[1]._target == 0.0
        assert service.weather_failures == 1
        outcomes = [(m.ref, m.outcome) for m in sent if m.kind == "command"]
        assert outcomes == [("c1", "blocked"), ("c1", "executed")]  # once the wind was calm
        service.close()


def _raw_one(port: str) -> dict[str, object]:
    return {
        "weather": {"port": port, "modbus_address": 10},
        "windows": [
            {
                "id": "w1",
                "building": "B1",
                "flat": "F1",
                "room": "stue",
                "driver": "modbus",
                "port": port,
                "modbus_address": 1,
                "travel_s": 60,
            }
        ],
    }


def test_applied_setpoints_survive_a_restart_without_the_cloud(tmp_path: Path) -> None:
    kept = tmp_path / "setpoints.json"
    with bus((1,)) as b:
        config = VentilationConfig.parse(_raw_one(b.port))

        def service() -> VentilationService:
            return VentilationService(
                config,
                "gw1",
                {"w1": ModbusWindow(b.line, 1, travel_s=60)},
                lambda: read_weather(b.line, 10),
                lambda _w, _m: True,
                clock=b.clock.now,
                setpoints_file=kept,
            )

        first = service()
        first.on_config(
            b'{"v":1,"id":"cfg-7","scopes":[{"building":"B1","flat":"F1",'
            b'"values":{"co2_open_ppm":850}}]}'
        )
        first.on_config(b'{"v":1,"id":"cfg-8","scopes":[{"building":"B1","values":{"x":1}}]}')
        first.close()
        second = service()  # a reboot with the broker unreachable
        assert second.config_id == "cfg-7"
        assert second.windows["w1"].setpoints.co2_open_ppm == 850
        second.close()
        kept.write_text("{not json", encoding="utf-8")
        third = service()
        assert third.config_id is None and third.windows["w1"].setpoints.co2_open_ppm == 1000
        third.close()


def test_state_messages_are_kept_on_disk_bounded_oldest_dropped(tmp_path: Path) -> None:
    """The service records every state message in the outbox at once (no memory queue); the
    outbox keeps the newest ``max_states`` (numbered, in order) and counts the dropped."""
    with bus((1,)) as b, Outbox(tmp_path / "o.sqlite", "gw1", max_states=10) as outbox:
        config = VentilationConfig.parse(_raw_one(b.port))
        service = VentilationService(
            config,
            "gw1",
            {"w1": ModbusWindow(b.line, 1, travel_s=60)},
            lambda: read_weather(b.line, 10),
            outbox.add_state,
            clock=b.clock.now,
        )
        for n in range(25):  # 25 refusals while nothing is delivered
            service.on_command("w1", b'{"v":1,"id":"c%d"}' % n)
        assert (outbox.states_pending, outbox.states_dropped, outbox.states_added) == (10, 15, 25)
        kept = outbox.due_states(30, 100)
        assert [s.seq for s in kept] == list(range(16, 26))  # the newest ten, in order
        message = decode_window_state(kept[0].payload)
        assert message.seq == 16 and message.outcome == "refused"
        assert message.reason and "window command" in message.reason
        service.close()


def test_a_state_the_sink_cannot_keep_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_disk(_window: str, _message: WindowState) -> None:
        raise OSError("disk I/O error")

    with bus((1,)) as b:
        service = VentilationService(
            VentilationConfig.parse(_raw_one(b.port)),
            "gw1",
            {"w1": ModbusWindow(b.line, 1, travel_s=60)},
            lambda: read_weather(b.line, 10),
            broken_disk,
            clock=b.clock.now,
        )
        service.on_command("w1", b"{nope")
        assert service.unrecorded == 1
        assert "could not be kept" in caplog.text
        service.close()


GATEWAY_TOML = """
gateway_id = "gw-1"

[ventilation]
step_s = 5

[ventilation.weather]
port = "/dev/ttyUSB0"
modbus_address = 10

[ventilation.rules]
night_closed = true

[ventilation.setpoints]
co2_open_ppm = 950
airing_times = ["08:00", "17:30"]

[[ventilation.windows]]
id = "A-12-w1"
building = "B1"
flat = "A-12"
room = "stue"
driver = "modbus"
port = "/dev/ttyUSB0"
modbus_address = 3
travel_s = 45

[[ventilation.windows]]
id = "A-12-w2"
building = "B1"
flat = "A-12"
room = "sove"
driver = "relay"
open_pin = "GPIO17"
close_pin = "GPIO27"
ground_floor = true
"""


def test_gateway_toml_with_windows(tmp_path: Path) -> None:
    from edge.config import GatewayConfig

    path = tmp_path / "gateway.toml"
    path.write_text(GATEWAY_TOML, encoding="utf-8")
    config = GatewayConfig.load(path)
    assert config.ventilation is not None
    assert [w.driver for w in config.ventilation.windows] == ["modbus", "relay"]
    assert config.ventilation.setpoints.co2_open_ppm == 950
    assert config.ventilation.rules.night_closed
    bad = GATEWAY_TOML.replace("co2_open_ppm = 950", "co2_open_ppm = 9500")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="co2_open_ppm"):
        GatewayConfig.load(path)
    no_mast = GATEWAY_TOML.replace(
        '[ventilation.weather]\nport = "/dev/ttyUSB0"\nmodbus_address = 10\n', ""
    )
    assert no_mast != GATEWAY_TOML
    path.write_text(no_mast, encoding="utf-8")
    with pytest.raises(ValueError, match="weather mast"):
        GatewayConfig.load(path)
    relay_without_pins = GATEWAY_TOML.replace('close_pin = "GPIO27"\n', "")
    path.write_text(relay_without_pins, encoding="utf-8")
    with pytest.raises(ValueError, match="close_pin"):
        GatewayConfig.load(path)
