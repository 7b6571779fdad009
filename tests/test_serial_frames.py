"""Pure frame and decoding functions of the serial drivers, against the vendors' worked examples.

Sources:
- Sensirion, "Interface Description Sensirion SCD30 Sensor Module" v1.0, § 1.4 Modbus example
  frames and § 1.5 float example (``43 DB 8C 2E`` = 439.09 ppm).
- Senseair, TDE2067 "Modbus on Senseair S8", read IR4 example ``FE 04 00 03 00 01 D5 C5``.
- Winsen, "MH-Z19B User's Manual" v1.0, command list with checksums.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteSingleRegisterRequest,
)

from edge.sensors.model import SensorValues
from edge.sensors.serial import mhz19b
from edge.sensors.serial.errors import BadFrame, CrcMismatch, SerialFault, WrongAddress
from edge.sensors.serial.modbus import decode_response, encode_request
from edge.sensors.serial.scd30 import decode_measurement, registers_to_float
from edge.sensors.serial.senseair_s8 import MeterStatus, decode_input_registers


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- Modbus RTU request frames (pymodbus framing + CRC) -------------------------------------

REQUESTS = {
    "scd30 trigger continuous, no pressure (§1.4.1)": (
        WriteSingleRegisterRequest(address=0x0036, registers=[0]),
        0x61,
        "61 06 00 36 00 00 60 64",
    ),
    "scd30 stop continuous (§1.4.2)": (
        WriteSingleRegisterRequest(address=0x0037, registers=[1]),
        0x61,
        "61 06 00 37 00 01 F0 64",
    ),
    "scd30 interval 2 s (§1.4.3)": (
        WriteSingleRegisterRequest(address=0x0025, registers=[2]),
        0x61,
        "61 06 00 25 00 02 10 60",
    ),
    "scd30 data ready (§1.4.4)": (
        ReadHoldingRegistersRequest(address=0x0027, count=1),
        0x61,
        "61 03 00 27 00 01 3D A1",
    ),
    "scd30 read measurement (§1.4.5)": (
        ReadHoldingRegistersRequest(address=0x0028, count=6),
        0x61,
        "61 03 00 28 00 06 4C 60",
    ),
    "s8 read IR4 CO2, any address (TDE2067)": (
        ReadInputRegistersRequest(address=3, count=1),
        0xFE,
        "FE 04 00 03 00 01 D5 C5",
    ),
}


@pytest.mark.parametrize(("request_pdu", "address", "frame"), REQUESTS.values(), ids=REQUESTS)
def test_request_frames_match_vendor_examples(request_pdu, address, frame):
    assert encode_request(request_pdu, address) == h(frame)


# --- Modbus RTU response classification ------------------------------------------------------

# SCD30 "data ready" answer (one register, value 1); CRC F9 8C (CRC-16/MODBUS, low byte first).
GOOD_READY = "61 03 02 00 01 F9 8C"


def test_good_response_decodes_registers():
    pdu = decode_response(h(GOOD_READY), 0x61, 3)
    assert list(pdu.registers) == [1]


BAD_RESPONSES = {
    "crc flipped": ("61 03 02 00 01 F9 8D", 0x61, 3, CrcMismatch),
    "data byte flipped": ("61 03 02 00 00 F9 8C", 0x61, 3, CrcMismatch),
    "from another slave": (GOOD_READY, 0x62, 3, WrongAddress),
    "answer to another function": (GOOD_READY, 0x61, 4, BadFrame),
    "too short": ("61 03 02", 0x61, 3, BadFrame),
    "modbus exception 2 (illegal address)": ("61 83 02 C0 EF", 0x61, 3, BadFrame),
}


@pytest.mark.parametrize(
    ("frame", "address", "function", "error"), BAD_RESPONSES.values(), ids=BAD_RESPONSES
)
def test_bad_responses_are_classified(frame, address, function, error):
    with pytest.raises(error):
        decode_response(h(frame), address, function)


@given(st.binary(max_size=40))
def test_random_bytes_never_escape_as_anything_but_a_serial_fault(data):
    try:
        pdu = decode_response(data, 0x61, 3)
    except SerialFault:
        return
    assert pdu.function_code == 3
    assert pdu.dev_id == 0x61


# --- SCD30 floats -------------------------------------------------------------------------

FLOATS = {
    "co2 example §1.5 (439.09 ppm)": (0x43DB, 0x8C2E, 439.09),
    "temperature 0x41D9E7FF": (0x41D9, 0xE7FF, 27.24),
    "humidity 0x42433A1B": (0x4243, 0x3A1B, 48.81),
    "zero": (0x0000, 0x0000, 0.0),
    "minus 1.5": (0xBFC0, 0x0000, -1.5),
}


@pytest.mark.parametrize(("high", "low", "value"), FLOATS.values(), ids=FLOATS)
def test_scd30_float_registers(high, low, value):
    assert registers_to_float(high, low) == pytest.approx(value, abs=0.01)


def test_scd30_measurement_decodes_all_three():
    values = decode_measurement([0x43DB, 0x8C2E, 0x41D9, 0xE7FF, 0x4243, 0x3A1B])
    assert values.co2_ppm == pytest.approx(439.09, abs=0.01)
    assert values.temperature_c == pytest.approx(27.24, abs=0.01)
    assert values.humidity_pct == pytest.approx(48.81, abs=0.01)


@pytest.mark.parametrize(
    "bad", [(0x7FC0, 0x0000), (0x7F80, 0x0000), (0xFF80, 0x0000)], ids=["nan", "+inf", "-inf"]
)
def test_scd30_non_finite_float_is_not_available(bad):
    values = decode_measurement([*bad, 0x41D9, 0xE7FF, 0x4243, 0x3A1B])
    assert values.co2_ppm is None
    assert values.temperature_c is not None and math.isfinite(values.temperature_c)


def test_scd30_wrong_register_count_is_a_bad_frame():
    with pytest.raises(BadFrame):
        decode_measurement([0x43DB, 0x8C2E])


# --- Senseair S8 ------------------------------------------------------------------------

S8 = {
    "healthy 400 ppm": ([0, 0, 0, 400], 400.0, MeterStatus(0)),
    "fatal error": ([0x0001, 0, 0, 400], None, MeterStatus.FATAL_ERROR),
    "out of range": ([0x0020, 0, 0, 9999], None, MeterStatus.OUT_OF_RANGE),
    "reserved bits ignored": ([0x8000, 0, 0, 612], 612.0, MeterStatus(0)),
}


@pytest.mark.parametrize(("registers", "co2", "status"), S8.values(), ids=S8)
def test_s8_input_registers(registers, co2, status):
    values, meter = decode_input_registers(registers)
    assert values == SensorValues(co2_ppm=co2)
    assert meter == status


# --- Winsen MH-Z19B ---------------------------------------------------------------------

MHZ_COMMANDS = {
    "read CO2": (0x86, "", "FF 01 86 00 00 00 00 00 79"),
    "zero point calibration": (0x87, "", "FF 01 87 00 00 00 00 00 78"),
    "ABC logic on": (0x79, "A0", "FF 01 79 A0 00 00 00 00 E6"),
    "ABC logic off": (0x79, "", "FF 01 79 00 00 00 00 00 86"),
    "detection range 5000 ppm": (0x99, "00 00 00 13 88", "FF 01 99 00 00 00 13 88 CB"),
}


@pytest.mark.parametrize(("code", "argument", "frame"), MHZ_COMMANDS.values(), ids=MHZ_COMMANDS)
def test_mhz19b_commands_match_manual(code, argument, frame):
    assert mhz19b.command(code, h(argument)) == h(frame)
    assert mhz19b.checksum(h(frame)) == h(frame)[8]


MHZ_RESPONSES = {
    "612 ppm": ("FF 86 02 64 00 00 00 00 14", 612, None),
    "400 ppm": ("FF 86 01 90 00 00 00 00 E9", 400, None),
    "bad checksum": ("FF 86 02 64 00 00 00 00 15", None, CrcMismatch),
    "half frame": ("FF 86 02 64", None, BadFrame),
    "other command": ("FF 87 02 64 00 00 00 00 13", None, BadFrame),
    "no start byte": ("00 86 02 64 00 00 00 00 14", None, BadFrame),
}


@pytest.mark.parametrize(("frame", "co2", "error"), MHZ_RESPONSES.values(), ids=MHZ_RESPONSES)
def test_mhz19b_responses(frame, co2, error):
    if error is None:
        assert mhz19b.decode_co2_response(h(frame)) == co2
    else:
        with pytest.raises(error):
            mhz19b.decode_co2_response(h(frame))


@given(st.binary(max_size=12))
def test_mhz19b_random_bytes_only_raise_serial_faults(data):
    try:
        co2 = mhz19b.decode_co2_response(data)
    except SerialFault:
        return
    assert 0 <= co2 <= 0xFFFF


def test_mhz19b_argument_too_long_is_refused():
    with pytest.raises(ValueError, match="at most 5 bytes"):
        mhz19b.command(0x99, bytes(6))
