"""Backfill: fetch what an Aranet4 logged while the gateway was down, from its own history.

The Aranet4 keeps its last 2016 measurements (7 days at the default 5-minute interval; Aranet4
user manual) and hands them out over GATT. The download is done by the maintained `aranet4`
package (https://github.com/Anrijs/Aranet4-Python, ``aranet4/client.py``): ``Aranet4.get_records``
uses the "V2" history protocol when the device has characteristic ``f0cd2005`` (write
``61 param start`` to ``f0cd1402``, then read chunks ``<BHHHHB`` header + values) and the
older notification protocol ``f0cd2003`` otherwise. We drive it through a `BleakClient` we make,
so a bleak backend can be injected (tests, simulator: `firmware_sim.devices.aranet_gatt`).

The device sends no timestamps: record *i* of *total* (1 = oldest) was measured at
``now − ago − (total − i) · interval``, with ``interval`` (``f0cd2002``) and ``ago``
(``f0cd2004``, seconds since the newest record) read on the same connection.

Edge semantics: samples are returned strictly inside ``(since, until)`` by *measurement* time,
so the live readings that bound the gap are never sent twice. `gap_to_backfill` turns the
gateway's last reading before the outage and first after it into such a window with half an
interval of margin on each side, which absorbs the ±1 s of reconstructing times from ``ago``.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from aranet4.client import Aranet4, Param
from bleak import BleakClient
from bleak.backends.client import BaseBleakClient
from bleak.exc import BleakError

from edge.sensors.model import Sample, SensorValues

log = logging.getLogger(__name__)

_NOT_AVAILABLE: Final = -1
_PARAMS: Final = (Param.TEMPERATURE, Param.HUMIDITY, Param.PRESSURE, Param.CO2)
_LOG_GUARD_S: Final = 5
"""Don't start a download this close to the device's next record: indices would shift."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class BackfillReason(StrEnum):
    CONNECT = "connect"
    DISCONNECTED = "disconnected"
    TIMEOUT = "timeout"
    TRUNCATED = "truncated"
    GATT = "gatt"
    NOT_ARANET4 = "not_aranet4"
    CHANGED = "changed"


class BackfillError(Exception):
    """The history of one device could not be fetched; ``reason`` says why."""

    def __init__(self, address: str, reason: BackfillReason, message: str) -> None:
        super().__init__(f"backfill {address}: {message}")
        self.address = address
        self.reason = reason
        self.detail = message

    @property
    def retryable(self) -> bool:
        return self.reason is not BackfillReason.NOT_ARANET4


def _aware(name: str, value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware UTC, got naive {value}")


def gap_to_backfill(
    last_seen: datetime | None, first_live: datetime, interval_s: float
) -> tuple[datetime, datetime] | None:
    """The window to backfill between the last reading before an outage and the first after.

    Both are measurement times of live readings. ``None`` when nothing was seen before (a new
    sensor: there is no gap, just a beginning) or the readings are less than two intervals
    apart (no record can be missing). Otherwise ``(since, until)`` widened inwards by half an
    interval, so records measured at the two live readings' times are excluded even with the
    second or so of jitter of reconstructed times, and every record in between is kept.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    _aware("first_live", first_live)
    if last_seen is None:
        return None
    _aware("last_seen", last_seen)
    interval = timedelta(seconds=interval_s)
    if first_live - last_seen < 2 * interval:
        return None
    return last_seen + interval / 2, first_live - interval / 2


def record_times(now: datetime, total: int, interval_s: int, ago_s: int) -> list[datetime]:
    """Measurement time of each stored record, oldest first (index 0 is record 1)."""
    newest = now - timedelta(seconds=ago_s)
    return [newest - timedelta(seconds=interval_s * (total - 1 - i)) for i in range(total)]


def index_window(times: Sequence[datetime], since: datetime, until: datetime) -> range:
    """1-based record indices measured strictly inside ``(since, until)`` (maybe empty)."""
    inside = [i for i, t in enumerate(times, start=1) if since < t < until]
    return range(inside[0], inside[-1] + 1) if inside else range(0)


def _value(raw: float) -> float | None:
    return None if raw == _NOT_AVAILABLE else float(raw)


def _to_values(temperature: float, humidity: float, pressure: float, co2: float) -> SensorValues:
    rh = _value(humidity)
    return SensorValues(
        temperature_c=_value(temperature),
        humidity_pct=rh if rh is None or rh <= 100 else None,
        pressure_hpa=_value(pressure),
        co2_ppm=_value(co2),
    )


_V2_HEADER: Final = struct.Struct("<BHHHHB")
_V1_HEADER: Final = struct.Struct("<BHB")


def _value_size(param: int) -> int:
    return 1 if param == Param.HUMIDITY else 2


def short_history_packet(packet: bytes, header: struct.Struct) -> bool:
    """True when a history packet holds fewer values than its header counts (a cut-off
    transfer); the aranet4 parser would silently leave those records empty."""
    if len(packet) < header.size:
        return True
    fields = header.unpack_from(packet)
    count, param = int(fields[-1]), int(fields[0])
    return len(packet) - header.size < count * _value_size(param)


class _CheckedClient(BleakClient):
    """A BleakClient that notices history packets cut short, which the library lets pass."""

    truncated = False

    async def read_gatt_char(self, char_specifier: Any, **kwargs: Any) -> bytearray:
        data = await super().read_gatt_char(char_specifier, **kwargs)
        if str(char_specifier) == Aranet4.CHARACTERISTIC_HISTORY_READINGS_V2 and (
            short_history_packet(bytes(data), _V2_HEADER)
        ):
            raise _Truncated(f"history chunk of {len(data)} bytes is shorter than its header says")
        return data

    async def start_notify(self, char_specifier: Any, callback: Any, **kwargs: Any) -> None:
        def checked(sender: Any, data: bytearray) -> None:
            if short_history_packet(bytes(data), _V1_HEADER):
                self.truncated = True
            callback(sender, data)

        await super().start_notify(char_specifier, checked, **kwargs)


class _Truncated(Exception):
    pass


async def _read_u16_state(monitor: Aranet4) -> tuple[int, int]:
    return int(await monitor.get_total_readings()), int(await monitor.get_seconds_since_update())


async def _download(
    client: _CheckedClient,
    address: str,
    since: datetime,
    until: datetime,
    interval_s: float | None,
    clock: Callable[[], datetime],
) -> list[Sample]:
    monitor = Aranet4(address)
    monitor.device = client  # the library's own client, swapped for one with our backend
    name = str(await monitor.get_name())
    if not name.startswith("Aranet4"):
        raise BackfillError(
            address,
            BackfillReason.NOT_ARANET4,
            f"device says it is {name!r}, not an Aranet4 — fix `kind` in the gateway config",
        )
    interval = int(await monitor.get_interval())
    if interval <= 0:
        raise BackfillError(address, BackfillReason.TRUNCATED, f"device interval {interval} s")
    if interval_s is not None and abs(interval - interval_s) > 1:
        log.warning("%s logs every %d s, not %g s as configured", address, interval, interval_s)
    total, ago = await _read_u16_state(monitor)
    if interval - ago < _LOG_GUARD_S:
        await asyncio.sleep(interval - ago + 1)
        total, ago = await _read_u16_state(monitor)
    now = clock()
    indices = index_window(record_times(now, total, interval, ago), since, until)
    if not indices:
        return []
    start, end = indices[0], indices[-1]
    columns = [
        await monitor.get_records(param, log_size=total, start=start, end=end) for param in _PARAMS
    ]
    if client.truncated:
        raise _Truncated("a history notification is shorter than its header says")
    total_after, ago_after = await _read_u16_state(monitor)
    if total_after != total or ago_after < ago:
        raise BackfillError(
            address, BackfillReason.CHANGED, "the device logged a new record during the download"
        )
    times = record_times(now, total, interval, ago)
    samples = []
    for index in indices:
        raw = [column[index - 1] for column in columns]
        if all(v == _NOT_AVAILABLE for v in raw):
            raise BackfillError(
                address,
                BackfillReason.TRUNCATED,
                f"record {index} of {total} arrived without values (truncated transfer)",
            )
        samples.append(
            Sample(
                device=address,
                values=_to_values(*raw),
                time=times[index - 1].astimezone(UTC),
                interval_s=float(interval),
            )
        )
    return samples


async def _attempt(
    address: str,
    since: datetime,
    until: datetime,
    interval_s: float | None,
    client_backend: type[BaseBleakClient] | None,
    timeout_s: float,
    clock: Callable[[], datetime],
) -> list[Sample]:
    lost = asyncio.Event()
    client = _CheckedClient(
        address, lambda _: lost.set(), backend=client_backend, timeout=timeout_s
    )
    try:
        await client.connect()
    except (BleakError, OSError) as exc:
        raise BackfillError(
            address,
            BackfillReason.CONNECT,
            f"cannot connect ({exc}) — is the sensor in range and not connected to a phone?",
        ) from exc
    work = asyncio.ensure_future(_download(client, address, since, until, interval_s, clock))
    watch = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            raise BackfillError(
                address, BackfillReason.DISCONNECTED, "the device disconnected mid-transfer"
            )
        return work.result()
    except BleakError as exc:
        reason = BackfillReason.DISCONNECTED if lost.is_set() else BackfillReason.GATT
        raise BackfillError(address, reason, f"GATT error during transfer: {exc}") from exc
    except (_Truncated, struct.error, IndexError, UnboundLocalError, ValueError) as exc:
        raise BackfillError(
            address, BackfillReason.TRUNCATED, f"malformed history data: {exc!r}"
        ) from exc
    finally:
        for task in (work, watch):
            task.cancel()
        await asyncio.gather(work, watch, return_exceptions=True)
        try:
            await client.disconnect()
        except (BleakError, OSError) as exc:  # already gone
            log.debug("%s: disconnect after backfill: %s", address, exc)


async def fetch_aranet4_history(
    address: str,
    since: datetime,
    until: datetime,
    *,
    interval_s: float | None = None,
    client_backend: type[BaseBleakClient] | None = None,
    timeout_s: float = 60,
    attempts: int = 3,
    backoff_s: float = 2.0,
    clock: Callable[[], datetime] = utc_now,
) -> list[Sample]:
    """The Aranet4's records measured strictly inside ``(since, until)``, oldest first.

    Each attempt (connect + download) is bounded by ``timeout_s``; failed attempts are retried
    up to ``attempts`` in all, waiting ``backoff_s``, 2·``backoff_s``, … in between. Raises
    `BackfillError` (with ``reason``) when all attempts fail or the device is not an Aranet4.
    ``interval_s`` is the configured interval, only checked against the device's.
    """
    _aware("since", since)
    _aware("until", until)
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    address = address.upper()
    if until <= since:
        return []
    error: BackfillError | None = None
    for attempt in range(1, attempts + 1):
        try:
            async with asyncio.timeout(timeout_s):
                samples = await _attempt(
                    address, since, until, interval_s, client_backend, timeout_s, clock
                )
        except TimeoutError:
            error = BackfillError(
                address,
                BackfillReason.TIMEOUT,
                f"no complete history within {timeout_s:g} s — the sensor may be at the edge "
                "of radio range",
            )
        except BackfillError as exc:
            if not exc.retryable:
                raise
            error = exc
        else:
            log.info("%s: backfilled %d records", address, len(samples))
            return samples
        log.warning("%s (attempt %d of %d)", error, attempt, attempts)
        if attempt < attempts:
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    assert error is not None
    raise BackfillError(address, error.reason, f"gave up after {attempts} attempts: {error.detail}")
