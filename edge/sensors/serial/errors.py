"""What can go wrong on a serial line, one exception per counted fault.

Each fault names the `DeviceStats` counter it increments, so the poller counts without an
if-chain. None of these ever leaves the poller: they are retried (bounded), counted and logged.
"""

from __future__ import annotations

from typing import ClassVar


class SerialFault(Exception):
    """A failed exchange with one device; ``stat`` is the counter it increments."""

    stat: ClassVar[str] = "bad_frames"


class NoAnswer(SerialFault):
    """The device did not answer within the response timeout."""

    stat = "timeouts"


class CrcMismatch(SerialFault):
    """A complete frame arrived but its CRC (Modbus) or checksum (MH-Z19B) was wrong."""

    stat = "crc_errors"


class BadFrame(SerialFault):
    """A half frame, an unknown function code, a Modbus exception or a malformed answer."""

    stat = "bad_frames"


class WrongAddress(SerialFault):
    """A well-formed answer from another slave address than the one asked."""

    stat = "wrong_address"


class PortError(SerialFault):
    """The serial port could not be opened or failed (unplugged USB adapter, missing pty)."""

    stat = "port_errors"
