"""Serial device emulators that put the real bytes on a real pty.

- `Scd30Emulator`, `SenseairS8Emulator`: Modbus RTU slaves, served together by a
  `ModbusResponder` (one pty = one RS-485 bus; several slaves may share it). Frames are built and
  checked with pymodbus' `FramerRTU` and PDU classes (CRC-16/MODBUS), not by hand.
- `Mhz19bResponder`: the Winsen MH-Z19B 9-byte protocol.

Register maps and frames follow the vendor documents cited in the gateway drivers: Sensirion
"Interface Description SCD30" § 1.4 (Modbus), Senseair TDE2067 "Modbus on Senseair S8",
Winsen "MH-Z19B User's Manual" v1.0. Each device takes ``values_fn() -> {"co2_ppm": …,
"temperature_c": …, "humidity_pct": …}`` from the simulator and a `FaultSwitch` (``.faults``).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from typing import Final, Protocol

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)

from firmware_sim.devices.serial_faults import LINE_FAULTS, Fault, FaultSwitch, ValuesFn
from firmware_sim.devices.serial_pty import PtyResponder

log = logging.getLogger(__name__)

NAN_REGISTERS: Final = (0x7FC0, 0x0000)
"""IEEE 754 quiet NaN, high word first: what a broken SCD30 float looks like."""


def float_registers(value: float) -> tuple[int, int]:
    """A float as two big-endian 16-bit registers, high word first (SCD30 § 1.5)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return high, low


class ModbusSlave(Protocol):
    faults: FaultSwitch

    def answers(self, address: int) -> bool: ...

    def handle(self, request: ModbusPDU) -> ModbusPDU: ...


def _illegal(request: ModbusPDU, code: ExcCodes) -> ModbusPDU:
    return ExceptionResponse(request.function_code, code)


class Scd30Emulator:
    """Sensirion SCD30 in Modbus mode (slave 0x61 by default)."""

    def __init__(self, values_fn: ValuesFn, address: int = 0x61) -> None:
        self.values_fn = values_fn
        self.address = address
        self.faults = FaultSwitch()
        self.measuring = False
        self.interval_s = 2
        self.ambient_pressure_mbar = 0

    def answers(self, address: int) -> bool:
        return address == self.address

    def _measurement(self) -> list[int]:
        if self.faults.take(frozenset({Fault.INVALID_VALUES})):
            return list(NAN_REGISTERS * 3)
        values = self.values_fn()
        registers: list[int] = []
        for name in ("co2_ppm", "temperature_c", "humidity_pct"):
            registers.extend(float_registers(values[name]))
        return registers

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        if isinstance(request, WriteSingleRegisterRequest):
            value = request.registers[0]
            if request.address == 0x0036:  # trigger continuous measurement
                self.measuring, self.ambient_pressure_mbar = True, value
            elif request.address == 0x0037:  # stop continuous measurement
                self.measuring = False
            elif request.address == 0x0025 and 2 <= value <= 1800:  # measurement interval
                self.interval_s = value
            else:
                return _illegal(request, ExcCodes.ILLEGAL_ADDRESS)
            return WriteSingleRegisterResponse(address=request.address, registers=[value])
        if type(request) is ReadHoldingRegistersRequest:
            if (request.address, request.count) == (0x0027, 1):  # data ready status
                return ReadHoldingRegistersResponse(registers=[int(self.measuring)])
            if (request.address, request.count) == (0x0028, 6):  # read measurement
                return ReadHoldingRegistersResponse(registers=self._measurement())
            return _illegal(request, ExcCodes.ILLEGAL_ADDRESS)
        return _illegal(request, ExcCodes.ILLEGAL_FUNCTION)


class SenseairS8Emulator:
    """Senseair S8: answers its own address and the "any address" 0xFE (TDE2067 § 2.1)."""

    ANY_ADDRESS: Final = 0xFE
    FATAL_ERROR: Final = 0x0001

    def __init__(self, values_fn: ValuesFn, address: int = 0x68) -> None:
        self.values_fn = values_fn
        self.address = address
        self.faults = FaultSwitch()

    def answers(self, address: int) -> bool:
        return address in (self.address, self.ANY_ADDRESS)

    def _input_registers(self) -> list[int]:
        if self.faults.take(frozenset({Fault.INVALID_VALUES})):
            return [self.FATAL_ERROR, 0, 0, 0]
        co2 = round(self.values_fn()["co2_ppm"])
        return [0, 0, 0, max(0, min(co2, 0xFFFF))]  # IR1 status, IR2 alarm, IR3 output, IR4 CO2

    def handle(self, request: ModbusPDU) -> ModbusPDU:
        if not isinstance(request, ReadInputRegistersRequest):
            return _illegal(request, ExcCodes.ILLEGAL_FUNCTION)
        registers = self._input_registers()
        end = request.address + request.count
        if end > len(registers):
            return _illegal(request, ExcCodes.ILLEGAL_ADDRESS)
        return ReadInputRegistersResponse(registers=registers[request.address : end])


def apply_fault(frame: bytes, fault: Fault | None, reencode: bytes | None = None) -> bytes:
    """The bytes actually sent for `frame` under `fault`.

    `reencode` is the same answer framed as if from another address (or to another command).
    """
    if fault is Fault.SILENCE:
        return b""
    if fault is Fault.HALF_FRAME:
        return frame[: len(frame) // 2]
    if fault is Fault.CRC_ERROR:
        corrupted = bytearray(frame)
        corrupted[-3] ^= 0x01  # last data byte; address and length stay intact
        return bytes(corrupted)
    if fault is Fault.WRONG_ADDRESS and reencode is not None:
        return reencode
    return frame


class ModbusResponder(PtyResponder):
    """Modbus RTU slaves on one pty (one bus). Requests for nobody get no answer."""

    def __init__(self, slaves: Sequence[ModbusSlave]) -> None:
        self.slaves = list(slaves)
        self._framer = FramerRTU(DecodePDU(is_server=True))
        super().__init__(name="modbus-responder")

    def _on_bytes(self, buffer: bytearray) -> None:
        while buffer:
            used, address, _tid, data = self._framer.decode(bytes(buffer))
            if not used:
                return  # wait for the rest of the request
            del buffer[:used]
            if not data:
                continue  # bad CRC: a real slave stays silent
            request = self._framer.decoder.decode(data)
            slave = next((s for s in self.slaves if s.answers(address)), None)
            if request is None or slave is None:
                continue
            response = slave.handle(request)
            fault = slave.faults.take(LINE_FAULTS)
            response.dev_id = address
            frame = self._framer.buildFrame(response)
            response.dev_id = (address + 1) & 0xFF
            self.send(apply_fault(frame, fault, self._framer.buildFrame(response)))


def mhz19b_checksum(frame: bytes) -> int:
    """0xFF − (byte1 + … + byte7) + 1, modulo 256 (MH-Z19B manual, "checksum calculation")."""
    return (0xFF - (sum(frame[1:8]) & 0xFF) + 1) & 0xFF


def mhz19b_frame(body: bytes) -> bytes:
    return body + bytes((mhz19b_checksum(body),))


class Mhz19bResponder(PtyResponder):
    """Winsen MH-Z19B on its own pty: answers "read CO2" (0x86), ignores other commands."""

    INVALID_PPM: Final = 0xFFFF

    def __init__(self, values_fn: ValuesFn) -> None:
        self.values_fn = values_fn
        self.faults = FaultSwitch()
        super().__init__(name="mhz19b-responder")

    def _answer(self, invalid: bool, command: int = 0x86) -> bytes:
        co2 = self.INVALID_PPM if invalid else round(self.values_fn()["co2_ppm"])
        co2 = max(0, min(co2, 0xFFFF))
        return mhz19b_frame(bytes((0xFF, command, co2 >> 8, co2 & 0xFF, 0, 0, 0, 0)))

    def _on_bytes(self, buffer: bytearray) -> None:
        while buffer:
            start = buffer.find(0xFF)
            if start < 0:
                buffer.clear()
                return
            del buffer[:start]
            if len(buffer) < 9:
                return
            request = bytes(buffer[:9])
            del buffer[:9]
            if mhz19b_checksum(request) != request[8] or request[2] != 0x86:
                continue
            invalid = self.faults.take(frozenset({Fault.INVALID_VALUES})) is not None
            fault = self.faults.take(LINE_FAULTS)
            frame = self._answer(invalid)
            other = self._answer(invalid, command=0x87)
            self.send(apply_fault(frame, fault, other))
