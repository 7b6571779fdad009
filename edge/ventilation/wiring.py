"""Builds the ventilation service from the gateway config: one serial line per RS-485 port
(shared, with one lock, by the window controllers and the weather mast on it), a relay driver
per relay window, and MQTT handlers for the window command topics and the config topic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.sensors.serial.errors import PortError
from edge.ventilation.actuators import Actuator, ModbusWindow, RelayWindow
from edge.ventilation.service import StateSink, VentilationService
from edge.ventilation.settings import VentilationConfig
from edge.ventilation.weather import Weather, read_weather
from edge.wire import config_topic, window_cmd_topic

log = logging.getLogger(__name__)


class _Bus:
    def __init__(self, port: str, baudrate: int) -> None:
        import serial

        self.port = port
        self.lock = threading.Lock()
        try:
            self.line = serial.serial_for_url(port, baudrate=baudrate, timeout=0.3)
        except (serial.SerialException, OSError) as exc:
            raise PortError(f"cannot open {port}: {exc} — check the RS-485 adapter") from None

    def close(self) -> None:
        self.line.close()


class Ventilation:
    """The service plus what it owns (serial lines); `handlers` for the uplink."""

    def __init__(
        self,
        config: VentilationConfig,
        gateway_id: str,
        record: StateSink,
        *,
        pin_factory: Any = None,
        clock: Callable[..., Any] | None = None,
        state_dir: Path | None = None,
    ) -> None:
        """``state_dir``: where the applied set points are kept across restarts."""
        self.buses: dict[str, _Bus] = {}
        actuators: dict[str, Actuator] = {}
        try:
            for window in config.windows:
                if window.driver == "modbus":
                    assert window.port is not None and window.modbus_address is not None
                    bus = self._bus(window.port, window.baudrate)
                    actuators[window.id] = ModbusWindow(
                        bus.line, window.modbus_address, travel_s=window.travel_s, lock=bus.lock
                    )
                else:
                    assert window.open_pin is not None and window.close_pin is not None
                    actuators[window.id] = RelayWindow(
                        window.open_pin,
                        window.close_pin,
                        travel_s=window.travel_s,
                        manual_pin=window.manual_pin,
                        pin_factory=pin_factory,
                    )
            weather = config.weather
            weather_read: Callable[[], Weather]
            if weather is not None:
                mast = self._bus(weather.port, weather.baudrate)

                def weather_read() -> Weather:
                    with mast.lock:
                        return read_weather(mast.line, weather.modbus_address)
            else:

                def weather_read() -> Weather:
                    return Weather(None, None, None)

            extra = {} if clock is None else {"clock": clock}
            setpoints_file = None if state_dir is None else state_dir / "setpoints.json"
            self.service = VentilationService(
                config,
                gateway_id,
                actuators,
                weather_read,
                record,
                setpoints_file=setpoints_file,
                **extra,
            )
        except BaseException:
            for actuator in actuators.values():
                actuator.close()
            self._close_buses()
            raise
        self.handlers: dict[str, Callable[[bytes], None]] = {
            config_topic(gateway_id): self.service.on_config,
            **{
                window_cmd_topic(gateway_id, w.id): self._command_handler(w.id)
                for w in config.windows
            },
        }

    def _command_handler(self, window_id: str) -> Callable[[bytes], None]:
        return lambda payload: self.service.on_command(window_id, payload)

    def _bus(self, port: str, baudrate: int) -> _Bus:
        if port not in self.buses:
            self.buses[port] = _Bus(port, baudrate)
        return self.buses[port]

    def start(self) -> None:
        if self.service.config.autostep:
            self.service.start()

    def close(self) -> None:
        """Stop the loop, close actuators and lines. Safe to call twice."""
        self.service.close()
        self._close_buses()

    def _close_buses(self) -> None:
        for bus in self.buses.values():
            bus.close()
        self.buses.clear()
