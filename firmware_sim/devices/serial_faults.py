"""Fault injection switches shared by the serial device emulators.

A fault is injected for the next ``times`` answers (``None``: until cleared), so a test can say
"the next answer has a CRC error" and then expect the gateway's retry to succeed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from enum import StrEnum

ValuesFn = Callable[[], Mapping[str, float]]
"""The simulator's true values: ``{"co2_ppm": …, "temperature_c": …, "humidity_pct": …}``."""


class Fault(StrEnum):
    INVALID_VALUES = "invalid_values"
    """The device reports its own "invalid" (SCD30: NaN floats; S8: MeterStatus fatal error;
    MH-Z19B, which has no status: 65535 ppm)."""
    CRC_ERROR = "crc_error"
    """One byte of the answer corrupted, so the CRC/checksum no longer matches."""
    HALF_FRAME = "half_frame"
    """Only the first half of the answer is sent."""
    WRONG_ADDRESS = "wrong_address"
    """A well-formed answer from another slave address (MH-Z19B: to another command)."""
    SILENCE = "silence"
    """No answer at all."""


LINE_FAULTS = frozenset(Fault) - {Fault.INVALID_VALUES}
"""Faults of the answer's bytes; `Fault.INVALID_VALUES` is taken only by answers with values."""


class FaultSwitch:
    """Thread-safe: tests set faults while the responder thread consumes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[Fault, int | None] = {}

    def inject(self, fault: Fault, times: int | None = 1) -> None:
        """Apply `fault` to the next `times` answers (None: until `clear`)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be ≥ 1 or None, got {times}")
        with self._lock:
            self._pending[fault] = times

    def clear(self, fault: Fault | None = None) -> None:
        with self._lock:
            if fault is None:
                self._pending.clear()
            else:
                self._pending.pop(fault, None)

    def take(self, among: frozenset[Fault] | None = None) -> Fault | None:
        """The pending fault (among `among`, default all) for this answer; consumes one use."""
        with self._lock:
            for fault, times in self._pending.items():
                if among is not None and fault not in among:
                    continue
                if times is not None:
                    if times <= 1:
                        del self._pending[fault]
                    else:
                        self._pending[fault] = times - 1
                return fault
        return None
