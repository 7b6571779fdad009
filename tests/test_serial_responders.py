"""The serial device emulators: real bytes on a real pty, fault switches, shutdown."""

from __future__ import annotations

import threading

import pytest
import serial
from pymodbus.framer import FramerRTU

from firmware_sim.devices.serial_faults import Fault, FaultSwitch
from firmware_sim.devices.serial_responders import (
    Mhz19bResponder,
    ModbusResponder,
    Scd30Emulator,
    SenseairS8Emulator,
    apply_fault,
    float_registers,
)


def values() -> dict[str, float]:
    return {"co2_ppm": 612.0, "temperature_c": 21.5, "humidity_pct": 45.25}


def with_crc(text: str) -> bytes:
    body = bytes.fromhex(text)
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def exchange(port: str, request: bytes, size: int = 64, timeout_s: float = 0.3) -> bytes:
    with serial.serial_for_url(port, baudrate=9600, timeout=timeout_s) as line:
        line.write(request)
        return line.read(size)


MODBUS_EXCHANGES = {
    "s8 IR4 at any address (TDE2067 example request)": (
        "FE 04 00 03 00 01 D5 C5",
        with_crc("FE 04 02 02 64"),
    ),
    "s8 IR1..IR4 at its own address": (
        with_crc("68 04 00 00 00 04"),
        with_crc("68 04 08" + " 00" * 6 + " 02 64"),
    ),
    "scd30 data ready before start": ("61 03 00 27 00 01 3D A1", with_crc("61 03 02 00 00")),
    "scd30 trigger continuous measurement": (
        "61 06 00 36 00 00 60 64",
        bytes.fromhex("61 06 00 36 00 00 60 64"),
    ),
    "scd30 unknown register: exception 2": (with_crc("61 03 00 99 00 01"), with_crc("61 83 02")),
    "s8 holding registers: exception 1": (with_crc("68 03 00 00 00 01"), with_crc("68 83 01")),
    "nobody at 0x10: silence": (with_crc("10 03 00 27 00 01"), b""),
    "bad request CRC: silence": ("61 03 00 27 00 01 3D A2", b""),
}


@pytest.mark.parametrize(("request_hex", "answer"), MODBUS_EXCHANGES.values(), ids=MODBUS_EXCHANGES)
def test_modbus_bus_answers_with_real_frames(request_hex, answer):
    request = bytes.fromhex(request_hex) if isinstance(request_hex, str) else request_hex
    with ModbusResponder([Scd30Emulator(values), SenseairS8Emulator(values, 0x68)]) as bus:
        assert exchange(bus.port, request, size=len(answer) or 1) == answer


def test_scd30_measurement_is_three_big_endian_floats():
    scd30 = Scd30Emulator(values)
    scd30.measuring = True
    registers = [r for v in (612.0, 21.5, 45.25) for r in float_registers(v)]
    answer = with_crc("61 03 0C" + "".join(f" {r >> 8:02X} {r & 0xFF:02X}" for r in registers))
    with ModbusResponder([scd30]) as bus:
        assert exchange(bus.port, bytes.fromhex("61 03 00 28 00 06 4C 60"), 17) == answer


MHZ_EXCHANGES = {
    "read CO2 (manual's command)": (
        "FF 01 86 00 00 00 00 00 79",
        "FF 86 02 64 00 00 00 00 14",
    ),
    "bad checksum: ignored": ("FF 01 86 00 00 00 00 00 78", ""),
    "zero calibration: no answer": ("FF 01 87 00 00 00 00 00 78", ""),
    "garbage before the command": (
        "00 12 FF 01 86 00 00 00 00 00 79",
        "FF 86 02 64 00 00 00 00 14",
    ),
}


@pytest.mark.parametrize(("request_hex", "answer"), MHZ_EXCHANGES.values(), ids=MHZ_EXCHANGES)
def test_mhz19b_answers_with_real_frames(request_hex, answer):
    with Mhz19bResponder(values) as mhz:
        assert exchange(mhz.port, bytes.fromhex(request_hex), 9) == bytes.fromhex(answer)


FRAME = bytes.fromhex("FF 86 02 64 00 00 00 00 14")
FAULTED = {
    "no fault": (None, FRAME),
    "silence": (Fault.SILENCE, b""),
    "half frame": (Fault.HALF_FRAME, FRAME[:4]),
    "crc error flips one data byte": (Fault.CRC_ERROR, bytes.fromhex("FF 86 02 64 00 00 01 00 14")),
    "wrong address sends the other framing": (Fault.WRONG_ADDRESS, b"other"),
}


@pytest.mark.parametrize(("fault", "sent"), FAULTED.values(), ids=FAULTED)
def test_apply_fault(fault, sent):
    assert apply_fault(FRAME, fault, b"other") == sent


def test_fault_switch_counts_down_and_filters():
    switch = FaultSwitch()
    switch.inject(Fault.CRC_ERROR, times=2)
    switch.inject(Fault.INVALID_VALUES)
    line = frozenset({Fault.CRC_ERROR})
    assert [switch.take(line) for _ in range(3)] == [Fault.CRC_ERROR, Fault.CRC_ERROR, None]
    assert switch.take() is Fault.INVALID_VALUES
    assert switch.take() is None
    switch.inject(Fault.SILENCE, times=None)
    assert [switch.take() for _ in range(3)] == [Fault.SILENCE] * 3
    switch.clear(Fault.SILENCE)
    assert switch.take() is None


def test_fault_switch_refuses_zero_times():
    with pytest.raises(ValueError, match="times"):
        FaultSwitch().inject(Fault.SILENCE, times=0)


@pytest.mark.parametrize(
    "make", [lambda: ModbusResponder([]), lambda: Mhz19bResponder(values)], ids=["modbus", "mhz19b"]
)
def test_close_is_idempotent_and_joins_the_thread(make):
    before = set(threading.enumerate())
    responder = make()
    assert responder.alive
    responder.close()
    responder.close()
    assert not responder.alive
    assert set(threading.enumerate()) <= before


def test_values_fn_failure_does_not_kill_the_responder():
    calls = []

    def flaky() -> dict[str, float]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulator hiccup")
        return values()

    with Mhz19bResponder(flaky) as mhz:
        request = bytes.fromhex("FF 01 86 00 00 00 00 00 79")
        assert exchange(mhz.port, request, 9) == b""
        assert exchange(mhz.port, request, 9) == FRAME
        assert mhz.alive
