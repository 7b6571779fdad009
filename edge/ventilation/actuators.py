"""Window actuators: a window controller on Modbus RTU (RS-485), or a controller's potential-free
open/close contacts switched by relays (gpiozero).

DOMAIN.md: never switch motor power from the Pi — talk to a certified window controller. Both
drivers command an opening in % and report what the controller says; `service` compares the two
after the travel time (and the cloud's actuator-fault job does so from the stored points).

Window-controller register map (holding registers, function 0x03 read, 0x06 write; one generic
map that this project's controllers are configured to expose — vendors' native maps differ)::

    0  target opening, 0.1 %  (0 … 1000; read/write)
    1  actual opening, 0.1 %  (read)
    2  status bits            (read): 0 moving, 1 motor stuck, 2 over-current, 3 no power,
                                       4 position lost
    3  manual operations      (read): counter of local (wall switch) operations, wraps at 65536
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntFlag
from typing import TYPE_CHECKING, Any, Final, Protocol

from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    WriteSingleRegisterRequest,
)

from edge.sensors.serial.errors import BadFrame, SerialFault
from edge.sensors.serial.modbus import ByteLine, transact

if TYPE_CHECKING:
    from gpiozero import Button, DigitalOutputDevice

log = logging.getLogger(__name__)

REG_TARGET: Final = 0
REG_ACTUAL: Final = 1
REG_STATUS: Final = 2
REG_MANUAL: Final = 3
REGISTER_COUNT: Final = 4


class Status(IntFlag):
    MOVING = 1 << 0
    STUCK = 1 << 1
    OVER_CURRENT = 1 << 2
    NO_POWER = 1 << 3
    POSITION_LOST = 1 << 4


FAULT_BITS: Final = Status.STUCK | Status.OVER_CURRENT | Status.NO_POWER | Status.POSITION_LOST
FAULT_TEXT: Final[dict[Status, str]] = {
    Status.STUCK: "motor blokeret / motor stuck",
    Status.OVER_CURRENT: "overstrøm / over-current",
    Status.NO_POWER: "ingen strøm til motoren / no motor power",
    Status.POSITION_LOST: "position tabt / position lost",
}


@dataclass(frozen=True, slots=True)
class Report:
    target_pct: float
    """The controller's own target (a wall switch changes it)."""
    actual_pct: float
    status: Status
    manual_count: int
    """Local operations so far (a change since the last report = a manual operation)."""

    @property
    def fault(self) -> str | None:
        bits = [text for bit, text in FAULT_TEXT.items() if self.status & bit]
        return ", ".join(bits) or None


def decode_registers(registers: Sequence[int]) -> Report:
    """Registers 0…3 of the map above → `Report`; `BadFrame` when they make no sense."""
    if len(registers) != REGISTER_COUNT:
        raise BadFrame(f"window controller: expected 4 registers, got {len(registers)}")
    actual = registers[REG_ACTUAL]
    if actual > 1000:
        raise BadFrame(f"window controller: actual opening {actual / 10:g} % is out of range")
    target = registers[REG_TARGET]
    if target > 1000:
        raise BadFrame(f"window controller: target opening {target / 10:g} % is out of range")
    return Report(
        target / 10.0, actual / 10.0, Status(registers[REG_STATUS] & 0x1F), registers[REG_MANUAL]
    )


def encode_target(pct: float) -> int:
    if not 0 <= pct <= 100:
        raise ValueError(f"opening {pct} % outside 0…100 %")
    return round(pct * 10)


class Actuator(Protocol):
    travel_s: float

    def command(self, pct: float) -> None:
        """Send the controller to `pct` %; raises `SerialFault` when it cannot be told."""

    def report(self) -> Report:
        """What the controller says now; raises `SerialFault` when it does not answer."""

    def close(self) -> None: ...


class ModbusWindow:
    """One window controller on an RS-485 bus. `lock` is the bus's (one exchange at a time)."""

    def __init__(
        self,
        line: ByteLine,
        address: int,
        *,
        travel_s: float,
        lock: threading.Lock | None = None,
        timeout_s: float = 0.3,
        retries: int = 2,
    ) -> None:
        self.line = line
        self.address = address
        self.travel_s = travel_s
        self.lock = lock or threading.Lock()
        self.timeout_s = timeout_s
        self.retries = retries

    def _exchange(self, request: Any) -> Any:
        error: SerialFault | None = None
        for _ in range(self.retries + 1):
            try:
                with self.lock:
                    return transact(self.line, request, self.address, self.timeout_s)
            except SerialFault as exc:
                error = exc
        assert error is not None
        raise error

    def command(self, pct: float) -> None:
        register = encode_target(pct)
        response = self._exchange(
            WriteSingleRegisterRequest(address=REG_TARGET, registers=[register])
        )
        if list(response.registers) != [register]:
            raise BadFrame(f"window controller 0x{self.address:02X} echoed a different target")

    def report(self) -> Report:
        response = self._exchange(
            ReadHoldingRegistersRequest(address=REG_TARGET, count=REGISTER_COUNT)
        )
        return decode_registers(response.registers)

    def close(self) -> None:
        """The line belongs to whoever opened it (one per bus)."""


class RelayWindow:
    """A window controller's open and close contacts on two relays (gpiozero `OutputDevice`s).

    Holding a contact for t seconds moves the window t / `travel_s` of its stroke, so the opening
    is estimated from run time. The relays are interlocked: the other one is switched off before
    one is switched on. Optional inputs: a closed end-stop (`closed_pin`, the only real feedback
    — a window reported closed that should be open, or the reverse, shows as a fault) and the
    resident's wall switch (`manual_pin`, toggles open/closed on the controller; counted).
    """

    def __init__(
        self,
        open_pin: str,
        close_pin: str,
        *,
        travel_s: float,
        closed_pin: str | None = None,
        manual_pin: str | None = None,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from gpiozero import Button, DigitalOutputDevice

        self.travel_s = travel_s
        self._clock = clock
        self._open: DigitalOutputDevice = DigitalOutputDevice(open_pin, pin_factory=pin_factory)
        self._close: DigitalOutputDevice = DigitalOutputDevice(close_pin, pin_factory=pin_factory)
        self._end: Button | None = (
            Button(closed_pin, pull_up=True, pin_factory=pin_factory) if closed_pin else None
        )
        self._manual: Button | None = (
            Button(manual_pin, pull_up=True, pin_factory=pin_factory) if manual_pin else None
        )
        self._lock = threading.Lock()
        self._from_pct = 0.0
        self._to_pct = 0.0
        self._started = clock()
        self._manual_count = 0
        self._closed = False
        if self._manual is not None:
            self._manual.when_pressed = self._on_manual

    def _estimate(self) -> float:
        if self._to_pct == self._from_pct:
            return self._to_pct
        run = self.travel_s * abs(self._to_pct - self._from_pct) / 100.0
        done = min(1.0, (self._clock() - self._started) / run) if run > 0 else 1.0
        return self._from_pct + (self._to_pct - self._from_pct) * done

    def _drive(self, pct: float) -> None:
        now_pct = self._estimate()
        self._open.off()
        self._close.off()
        self._from_pct, self._to_pct, self._started = now_pct, pct, self._clock()
        run_s = self.travel_s * abs(pct - now_pct) / 100.0
        if pct in (0.0, 100.0):
            run_s += 0.1 * self.travel_s  # run into the end stop
        if run_s <= 0:
            return
        relay = self._open if pct > now_pct else self._close
        relay.blink(on_time=run_s, off_time=0.01, n=1, background=True)

    def command(self, pct: float) -> None:
        encode_target(pct)  # range check
        with self._lock:
            self._drive(pct)

    def _on_manual(self) -> None:
        with self._lock:
            self._manual_count = (self._manual_count + 1) % 65536
            self._drive(0.0 if self._estimate() > 0 else 100.0)

    def report(self) -> Report:
        with self._lock:
            estimate = self._estimate()
            moving = estimate != self._to_pct
            status = Status.MOVING if moving else Status(0)
            if self._end is not None and not moving:
                end_closed = self._end.is_pressed
                if end_closed and estimate > 0:
                    estimate = 0.0  # should be open but sits on the end stop
                elif not end_closed and estimate == 0:
                    estimate, status = 100.0, Status.POSITION_LOST  # should be closed but is not
            return Report(self._to_pct, round(estimate, 1), status, self._manual_count)

    def close(self) -> None:
        """Both relays off, pins released. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._open.off()
        self._close.off()
        for device in (self._open, self._close, self._end, self._manual):
            if device is not None:
                device.close()
