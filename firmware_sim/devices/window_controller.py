"""A motorised window's controller and the building's weather mast as Modbus RTU slaves.

They speak the register maps the gateway's drivers read (edge/ventilation/actuators.py,
edge/ventilation/weather.py) and are served on a pty by `ModbusResponder` like the sensors.
The controller moves at ``100 / travel_s`` % per second towards its target; mechanical faults
(`Mechanical`): ``stuck`` (never moves, reports the stuck bit), ``slow`` (a quarter of the speed,
no fault bit: only the gateway's commanded-vs-reported check sees it), ``dead`` (moves no more
and reports nothing wrong — a broken motor without feedback). The line faults (silence, CRC, …)
come from the shared `FaultSwitch`. A resident's wall switch is `press_wall_switch`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Final

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)

from firmware_sim.devices.serial_faults import FaultSwitch

STATUS_MOVING: Final = 1 << 0
STATUS_STUCK: Final = 1 << 1


class Mechanical(StrEnum):
    OK = "ok"
    STUCK = "stuck"
    SLOW = "slow"
    DEAD = "dead"


def _illegal(request: ModbusPDU) -> ModbusPDU:
    return ExceptionResponse(request.function_code, ExcCodes.ILLEGAL_ADDRESS)


class WindowControllerEmulator:
    """Holding registers 0 target (0.1 %), 1 actual (0.1 %), 2 status, 3 manual counter."""

    def __init__(
        self,
        address: int,
        *,
        travel_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.travel_s = travel_s
        self.clock = clock
        self.faults = FaultSwitch()
        self.mechanical = Mechanical.OK
        self._lock = threading.Lock()
        self._target = 0.0
        self._position = 0.0
        self._at = clock()
        self.manual_count = 0

    def answers(self, address: int) -> bool:
        return address == self.address

    def _advance(self) -> None:
        now = self.clock()
        elapsed, self._at = now - self._at, now
        if self.mechanical in (Mechanical.STUCK, Mechanical.DEAD):
            return
        speed = 100.0 / self.travel_s * (0.25 if self.mechanical is Mechanical.SLOW else 1.0)
        step = speed * elapsed
        delta = self._target - self._position
        self._position = (
            self._target if abs(delta) <= step else self._position + step * (1 if delta > 0 else -1)
        )

    @property
    def position_pct(self) -> float:
        """The window's true opening (what the building physics sees)."""
        with self._lock:
            self._advance()
            return self._position

    def press_wall_switch(self, pct: float) -> None:
        """A resident operates the window on site."""
        with self._lock:
            self._advance()
            self._target = pct
            self.manual_count = (self.manual_count + 1) % 65536

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        with self._lock:
            self._advance()
            if isinstance(request, WriteSingleRegisterRequest):
                value = request.registers[0]
                if request.address != 0 or value > 1000:
                    return _illegal(request)
                self._target = value / 10.0
                return WriteSingleRegisterResponse(address=0, registers=[value])
            if type(request) is ReadHoldingRegistersRequest:
                if request.address != 0 or request.count != 4:
                    return _illegal(request)
                status = 0
                if self.mechanical is Mechanical.STUCK and self._target != self._position:
                    status |= STATUS_STUCK
                elif self._target != self._position and self.mechanical is not Mechanical.DEAD:
                    status |= STATUS_MOVING
                registers = [
                    round(self._target * 10),
                    round(self._position * 10),
                    status,
                    self.manual_count,
                ]
                return ReadHoldingRegistersResponse(registers=registers)
            return _illegal(request)


class WeatherMastEmulator:
    """Input registers 0 rain (0/1), 1 wind 0.1 m/s, 2 outdoor T 0.1 °C (int16), 3 status."""

    def __init__(self, values_fn: Callable[[], tuple[bool, float, float]], address: int = 10):
        self.values_fn = values_fn
        self.address = address
        self.faults = FaultSwitch()

    def answers(self, address: int) -> bool:
        return address == self.address

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        if type(request) is ReadInputRegistersRequest and (request.address, request.count) == (
            0,
            4,
        ):
            rain, wind_ms, outdoor_c = self.values_fn()
            temperature = round(outdoor_c * 10) & 0xFFFF
            registers = [int(rain), max(0, round(wind_ms * 10)), temperature, 0]
            return ReadInputRegistersResponse(registers=registers)
        return _illegal(request)
