"""The device end of a real pseudo-terminal, served by a thread with a tested shutdown.

``os.openpty()`` gives a master/slave pair; the gateway opens the slave's tty name (``port``)
with pyserial like any ``/dev/ttyUSB0``, and the emulator reads and writes the master end.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import tty

from firmware_sim.devices.closeable import Closeable

log = logging.getLogger(__name__)

_POLL_S = 0.02
"""Reader poll period; a gap this long also ends a half-received request (Modbus RTU § 2.5.1.1
ends a frame after 3.5 character times of silence)."""


class PtyResponder(Closeable):
    """Base: subclasses implement `_on_bytes` (consume a request from the buffer, answer it)."""

    def __init__(self, name: str) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._buffer = bytearray()
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name)
        self._thread.start()

    def close(self, join_timeout_s: float = 2.0) -> None:
        """Stop the thread and close the pty; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._thread.join(join_timeout_s)
        if self._thread.is_alive():  # pragma: no cover - the loop polls the stop event
            log.warning("responder on %s did not stop within %s s", self.port, join_timeout_s)
        for fd in (self._master, self._slave):
            os.close(fd)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def send(self, data: bytes) -> None:
        if data:
            os.write(self._master, data)

    def _on_bytes(self, buffer: bytearray) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self._master], [], [], _POLL_S)
            if not readable:
                self._buffer.clear()
                continue
            try:
                self._buffer += os.read(self._master, 512)
            except OSError:  # slave side not open right now
                self._stop.wait(_POLL_S)
                continue
            try:
                self._on_bytes(self._buffer)
            except Exception:
                log.exception("responder on %s failed on %s", self.port, self._buffer.hex(" "))
                self._buffer.clear()
