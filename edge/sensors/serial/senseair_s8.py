"""Senseair S8 (CO2) over Modbus RTU.

Source: Senseair, "Modbus on Senseair S8", TDE2067 (rev. PA1): 9600 baud, 8 data bits, no parity,
1 stop bit (section 2.1); slave address 0xFE is "any address", answered by whichever S8 is on
the line (use a unique address per sensor on a shared RS-485 bus); input registers read with
function 0x04 (section 2.3): IR1 MeterStatus (address 0), IR2 AlarmStatus, IR3 OutputStatus,
IR4 Space CO2 in ppm (address 3). Example request for IR4: ``FE 04 00 03 00 01 D5 C5``.
MeterStatus bits (section 3.1): 0 fatal error, 1 offset regulation error, 2 algorithm error,
3 output error, 4 self-diagnostics error, 5 out of range, 6 memory error.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntFlag
from typing import Final

from pymodbus.pdu.register_message import ReadInputRegistersRequest

from edge.sensors.model import SensorValues
from edge.sensors.serial.errors import BadFrame
from edge.sensors.serial.modbus import ByteLine, transact

S8_ANY_ADDRESS: Final = 0xFE
S8_BAUDRATE: Final = 9600
IR_METER_STATUS: Final = 0
IR_SPACE_CO2: Final = 3


class MeterStatus(IntFlag):
    """IR1 error bits (TDE2067 section 3.1); any of them makes the CO2 value unusable."""

    FATAL_ERROR = 1 << 0
    OFFSET_REGULATION_ERROR = 1 << 1
    ALGORITHM_ERROR = 1 << 2
    OUTPUT_ERROR = 1 << 3
    SELF_DIAGNOSTICS_ERROR = 1 << 4
    OUT_OF_RANGE = 1 << 5
    MEMORY_ERROR = 1 << 6


ERROR_BITS: Final = MeterStatus(0x7F)


def decode_input_registers(registers: Sequence[int]) -> tuple[SensorValues, MeterStatus]:
    """CO2 from IR1…IR4; ``co2_ppm`` is None when MeterStatus reports an error."""
    if len(registers) != 4:
        raise BadFrame(f"Senseair S8 IR1…IR4 needs 4 registers, got {len(registers)}")
    status = MeterStatus(registers[IR_METER_STATUS] & ERROR_BITS)
    co2 = None if status else float(registers[IR_SPACE_CO2])
    return SensorValues(co2_ppm=co2), status


class SenseairS8Driver:
    quantities: Final = frozenset({"co2_ppm"})

    def __init__(self, address: int = S8_ANY_ADDRESS) -> None:
        self.address = address
        self.last_status = MeterStatus(0)

    def read(self, line: ByteLine, timeout_s: float) -> SensorValues | None:
        request = ReadInputRegistersRequest(address=IR_METER_STATUS, count=4)
        response = transact(line, request, self.address, timeout_s)
        values, self.last_status = decode_input_registers(response.registers)
        return values
