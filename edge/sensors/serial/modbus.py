"""Modbus RTU over pyserial with pymodbus doing the framing, CRC and PDU coding.

Why not `pymodbus.client.ModbusSerialClient`: its transaction layer hides *why* an exchange
failed (a CRC error, a reply from the wrong slave and a half frame all end as a timeout), and the
gateway must count those separately. So the client side here is thin: pymodbus' `FramerRTU`
builds and checks frames (CRC-16/MODBUS, Modbus over Serial Line V1.02 § 2.5.1.2) and its
`DecodePDU` parses PDUs; this module only moves bytes and classifies what came back.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ExceptionResponse, ModbusPDU

from edge.sensors.serial.errors import BadFrame, CrcMismatch, NoAnswer, WrongAddress

log = logging.getLogger(__name__)

_CLIENT_FRAMER = FramerRTU(DecodePDU(is_server=False))
_HEADER = 3
"""Address, function code and (for register reads) byte count: enough to know the frame size."""


class ByteLine(Protocol):
    """The part of `serial.Serial` (or `serial_for_url`'s objects) the drivers use."""

    timeout: float | None

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    def reset_input_buffer(self) -> None: ...


def encode_request(request: ModbusPDU, address: int) -> bytes:
    """The RTU frame (address, PDU, CRC low byte first) that asks `address` for `request`."""
    request.dev_id = address
    return _CLIENT_FRAMER.buildFrame(request)


def frame_size(head: bytes) -> int:
    """Total RTU frame size announced by the first bytes of a response; raise `BadFrame`."""
    pdu_class = _CLIENT_FRAMER.decoder.lookupPduClass(head)
    if pdu_class is None:
        raise BadFrame(f"unknown function code 0x{head[1]:02X} in {head.hex(' ')}")
    size = pdu_class.calculateRtuFrameSize(head)
    if not size:
        raise BadFrame(f"cannot size frame {head.hex(' ')}")
    return size


def decode_response(frame: bytes, address: int, function_code: int) -> ModbusPDU:
    """Check and decode one complete response frame from slave `address`.

    Raises `CrcMismatch`, `WrongAddress` (a valid frame from another slave) or `BadFrame`
    (short frame, Modbus exception response, or a reply to another function).
    """
    if len(frame) < FramerRTU.MIN_SIZE:
        raise BadFrame(f"half frame: {len(frame)} bytes ({frame.hex(' ')})")
    body, crc = frame[:-2], int.from_bytes(frame[-2:], "big")
    if not FramerRTU.check_CRC(body, crc):
        raise CrcMismatch(f"CRC mismatch in {frame.hex(' ')}")
    if frame[0] != address:
        raise WrongAddress(f"answer from slave 0x{frame[0]:02X}, asked 0x{address:02X}")
    try:
        pdu = _CLIENT_FRAMER.decoder.decode(body[1:])
    except ModbusException as exc:  # pragma: no cover - decode() catches its own errors
        raise BadFrame(f"undecodable PDU {body.hex(' ')}: {exc}") from None
    if pdu is None:
        raise BadFrame(f"undecodable PDU {body.hex(' ')}")
    if isinstance(pdu, ExceptionResponse):
        raise BadFrame(
            f"slave 0x{address:02X} answered Modbus exception {pdu.exception_code} "
            f"to function 0x{function_code:02X}"
        )
    if pdu.function_code != function_code:
        raise BadFrame(f"answer to function 0x{pdu.function_code:02X}, asked 0x{function_code:02X}")
    pdu.dev_id = frame[0]
    return pdu


def read_exactly(line: ByteLine, size: int, timeout_s: float) -> bytes:
    """Up to `size` bytes within `timeout_s` in total (fewer means the line fell quiet)."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        line.timeout = remaining
        chunk = line.read(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def drain(line: ByteLine, quiet_s: float = 0.05) -> bytes:
    """Swallow the rest of a bad frame: read until the line is quiet for `quiet_s`."""
    line.timeout = quiet_s
    junk = b""
    while chunk := line.read(256):
        junk += chunk
        if len(junk) > 4096:  # a babbling line; give up and let the next exchange cope
            break
    line.reset_input_buffer()
    return junk


def transact(line: ByteLine, request: ModbusPDU, address: int, timeout_s: float) -> ModbusPDU:
    """Send one request and return the checked response PDU; raise a `SerialFault` otherwise."""
    line.reset_input_buffer()
    line.write(encode_request(request, address))
    head = read_exactly(line, _HEADER, timeout_s)
    if not head:
        raise NoAnswer(f"slave 0x{address:02X} did not answer within {timeout_s:g} s")
    if len(head) < _HEADER:
        raise BadFrame(f"half frame: {len(head)} bytes ({head.hex(' ')})")
    size = frame_size(head)
    frame = head + read_exactly(line, size - len(head), timeout_s)
    if len(frame) < size:
        raise BadFrame(f"half frame: {len(frame)} of {size} bytes ({frame.hex(' ')})")
    return decode_response(frame, address, request.function_code)
