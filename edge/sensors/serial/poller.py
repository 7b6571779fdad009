"""One `SerialPoller` per serial port: polls every sensor on it in turn, never raises.

Several Modbus sensors on one RS-485 bus share the port's single connection and are polled one
after the other (Modbus is master/slave: one request in flight, Modbus over Serial Line V1.02
§ 2.2). All blocking serial I/O runs on the poller's own one-thread executor, so the event loop
never blocks and `__aexit__` leaves no thread behind. Ports are opened with pyserial's
`serial_for_url`, so ``/dev/ttyUSB0``, a pty path and ``socket://host:port`` all work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Self

import serial

from edge.config import SERIAL_KINDS, SensorConfig
from edge.sensors.model import Sample, SensorValues
from edge.sensors.serial.drivers import SerialDriver, address_of, baudrate_of, make_driver
from edge.sensors.serial.errors import PortError, SerialFault
from edge.sensors.serial.modbus import ByteLine, drain

log = logging.getLogger(__name__)

OnSample = Callable[[Sample], None]


@dataclass(slots=True)
class DeviceStats:
    """Counters for one device since the poller started.

    ``ok`` counts successful exchanges; each failed attempt counts once under its cause;
    ``retries`` counts repeated attempts, ``failed`` polls that failed after all retries.
    """

    ok: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    bad_frames: int = 0
    wrong_address: int = 0
    port_errors: int = 0
    invalid_values: int = 0
    retries: int = 0
    failed: int = 0

    def count(self, stat: str) -> None:
        setattr(self, stat, getattr(self, stat) + 1)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class _Suppressed:
    last_logged: float
    suppressed: int = 0


@dataclass(slots=True)
class RateLimitedLog:
    """Log a repeating problem at most once per `interval_s` per key; say how many were hidden."""

    interval_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _state: dict[tuple[str, str], _Suppressed] = field(default_factory=dict)

    def warning(self, key: tuple[str, str], message: str) -> bool:
        now = self.clock()
        state = self._state.get(key)
        if state is not None and now - state.last_logged < self.interval_s:
            state.suppressed += 1
            return False
        hidden = f" ({state.suppressed} similar suppressed)" if state and state.suppressed else ""
        log.warning("%s%s", message, hidden)
        self._state[key] = _Suppressed(now)
        return True


@dataclass(slots=True)
class _Entry:
    config: SensorConfig
    driver: SerialDriver
    stats: DeviceStats = field(default_factory=DeviceStats)


def group_by_port(sensors: Iterable[SensorConfig]) -> dict[str, list[SensorConfig]]:
    """The serial sensors by port: one `SerialPoller` per entry."""
    ports: dict[str, list[SensorConfig]] = {}
    for sensor in sensors:
        if sensor.kind in SERIAL_KINDS and sensor.port:
            ports.setdefault(sensor.port, []).append(sensor)
    return ports


def _check_bus(sensors: Sequence[SensorConfig]) -> tuple[str, int]:
    if not sensors:
        raise ValueError("SerialPoller needs at least one serial sensor")
    ports = {s.port for s in sensors}
    if len(ports) != 1:
        raise ValueError(f"one SerialPoller per port, got ports {sorted(map(str, ports))}")
    port = sensors[0].port
    assert port is not None  # SensorConfig guarantees a port for serial kinds
    bauds = {baudrate_of(s) for s in sensors}
    if len(bauds) != 1:
        raise ValueError(
            f"sensors on {port} need one baud rate, got {sorted(bauds)}; "
            "set `baudrate` to the same value on each of them (and on the devices)"
        )
    addresses = [address_of(s) for s in sensors]
    if len(sensors) > 1 and None in addresses:
        raise ValueError(f"an MH-Z19B has no bus address: give it a port of its own, not {port}")
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"two sensors on {port} share a Modbus address: set `modbus_address`")
    return port, bauds.pop()


class SerialPoller:
    """Poll the sensors on one serial port; deliver `Sample`s to `on_sample`.

    Use as ``async with SerialPoller(sensors, on_sample) as poller: ...``. With ``autopoll``
    (default) a background task polls each sensor every ``poll_interval_s``; `poll_once` polls
    all of them now. Faults are retried up to ``retries`` times, counted in `stats` and logged
    at most once a minute per device and cause.
    """

    def __init__(
        self,
        sensors: Sequence[SensorConfig],
        on_sample: OnSample,
        *,
        response_timeout_s: float = 1.0,
        retries: int = 2,
        autopoll: bool = True,
        log_interval_s: float = 60.0,
    ) -> None:
        self.port, self.baudrate = _check_bus(sensors)
        if retries < 0:
            raise ValueError(f"retries must be ≥ 0, got {retries}")
        self._entries = [_Entry(s, make_driver(s)) for s in sensors]
        self._on_sample = on_sample
        self._timeout_s = response_timeout_s
        self._retries = retries
        self._autopoll = autopoll
        self._rate_log = RateLimitedLog(log_interval_s)
        self._line: serial.SerialBase | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = threading.Event()
        """Set at close: the I/O thread gives up retrying, so shutdown waits ≤ one timeout."""

    @property
    def stats(self) -> Mapping[str, DeviceStats]:
        """Counters per device (`SensorConfig.device`, e.g. ``/dev/ttyUSB0@97``)."""
        return {e.config.device: e.stats for e in self._entries}

    async def __aenter__(self) -> Self:
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serial-poller")
        if self._autopoll:
            self._task = asyncio.create_task(self._run(), name=f"serial-poller {self.port}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling, close the port and join the I/O thread; safe to call twice."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        executor, self._executor = self._executor, None
        if executor is not None:
            # Queued behind any exchange still running, so the port is not closed under it.
            await asyncio.get_running_loop().run_in_executor(executor, self._close_line)
            executor.shutdown(wait=True)

    async def poll_once(self) -> list[Sample]:
        """Poll every sensor on the port once, in turn; deliver and return the samples."""
        return [s for e in self._entries if (s := await self._poll_entry(e)) is not None]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_due = [loop.time()] * len(self._entries)
        while True:
            for i, entry in enumerate(self._entries):
                if next_due[i] <= loop.time():
                    await self._poll_entry(entry)
                    next_due[i] = max(next_due[i] + entry.config.poll_interval_s, loop.time())
            await asyncio.sleep(max(0.0, min(next_due) - loop.time()))

    async def _poll_entry(self, entry: _Entry) -> Sample | None:
        if self._executor is None:
            raise RuntimeError("use SerialPoller as `async with SerialPoller(...)`")
        loop = asyncio.get_running_loop()
        values = await loop.run_in_executor(self._executor, self._poll_blocking, entry)
        if values is None:
            return None
        quantities = values.quantities()
        if len(quantities) < len(entry.driver.quantities):
            entry.stats.invalid_values += 1
            missing = sorted(entry.driver.quantities - quantities.keys())
            self._rate_log.warning(
                (entry.config.device, "invalid"),
                f"sensor {entry.config.id} ({entry.config.device}) reports invalid {missing}",
            )
        if not quantities:
            return None
        sample = Sample(device=entry.config.device, values=values)
        try:
            self._on_sample(sample)
        except Exception:
            log.exception("on_sample failed for %s; the poller carries on", sample.device)
        return sample

    def _poll_blocking(self, entry: _Entry) -> SensorValues | None:
        """One poll with bounded retries, on the I/O thread. Never raises."""
        device = entry.config.device
        for attempt in range(self._retries + 1):
            if self._stopping.is_set():
                return None
            if attempt:
                entry.stats.retries += 1
            try:
                values = entry.driver.read(self._open_line(), self._timeout_s)
            except SerialFault as exc:
                entry.stats.count(exc.stat)
                self._rate_log.warning((device, exc.stat), f"sensor {device}: {exc}")
                self._recover(exc)
            except Exception as exc:  # a bug or an OS error must not stop the gateway
                entry.stats.port_errors += 1
                self._rate_log.warning((device, "error"), f"sensor {device}: {exc!r}")
                self._close_line()
            else:
                entry.stats.ok += 1
                return values
        entry.stats.failed += 1
        self._rate_log.warning(
            (device, "failed"),
            f"sensor {entry.config.id} ({device}) gave no answer after {self._retries + 1} "
            "attempts — check wiring, address, baud rate and power",
        )
        return None

    def _recover(self, fault: SerialFault) -> None:
        if isinstance(fault, PortError) or self._line is None:
            self._close_line()
            return
        try:
            drain(self._line)
        except Exception as exc:
            log.debug("drain after %s failed: %r", fault, exc)
            self._close_line()

    def _open_line(self) -> ByteLine:
        if self._line is None:
            try:
                port = serial.serial_for_url(
                    self.port,
                    baudrate=self.baudrate,
                    bytesize=serial.EIGHTBITS,
                    parity=serial.PARITY_NONE,
                    stopbits=serial.STOPBITS_ONE,
                    timeout=self._timeout_s,
                    do_not_open=True,
                )
                self._line = port
                port.open()
            except (serial.SerialException, OSError, ValueError) as exc:
                self._close_line()  # a half-opened socket:// line holds a connected socket
                raise PortError(f"cannot open {self.port}: {exc}") from None
        line: ByteLine = self._line
        return line

    def _close_line(self) -> None:
        line, self._line = self._line, None
        if line is not None:
            # pyserial's socket:// close() calls shutdown() and close() in one try block, so a
            # connection the peer already reset is dropped unclosed (a leaked descriptor):
            # close the socket ourselves too (closing twice is harmless).
            sock = getattr(line, "_socket", None)
            with contextlib.suppress(Exception):
                line.close()
            if isinstance(sock, socket.socket):
                sock.close()
