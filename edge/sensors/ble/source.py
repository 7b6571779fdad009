"""`BleSource`: passive BLE scanning → decode → filter by the device registry → `Sample`s.

Owns one bleak scanner; an async context manager. Scans passively with BlueZ advertisement-
monitor patterns built from the configured kinds (`edge.sensors.ble.scanning`); where BlueZ has
no advertisement monitor API it logs what is needed and scans actively (``scanning="auto"``).
Never raises out of the advertisement callback: decode errors are counted per device and logged
rate-limited; unknown devices are recorded once for commissioning and never passed on. Only the
decoder libraries of the configured kinds are loaded (at construction); an unknown device of
another kind is listed by its format without decoding, so a neighbour's gadget cannot pull a
library into memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, Literal

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from edge.config import SensorConfig, SensorKind
from edge.sensors.ble.dispatch import decode, identify, import_decoders, parse_bind_key
from edge.sensors.ble.model import BleFormat, Decoded, DecodeError, DecodeReason, RawAdvert
from edge.sensors.ble.recovery import (
    AdapterRecovery,
    backoff_delays,
    recover_linux_adapter,
    retryable_errors,
)
from edge.sensors.ble.scanning import (
    MIN_PASSIVE_BLUEZ,
    ScanningMode,
    bluez_version,
    parse_version,
    passive_hint,
    passive_unsupported,
    scanner_kwargs,
    unavailable_reason,
)
from edge.sensors.model import MAX_UNKNOWN_DEVICES, Sample

_LOG = logging.getLogger(__name__)

FORMAT_KIND: Final[Mapping[BleFormat, SensorKind]] = {
    BleFormat.RUUVI_DF5: SensorKind.RUUVI,
    BleFormat.RUUVI_DF6: SensorKind.RUUVI,
    BleFormat.RUUVI_E1: SensorKind.RUUVI,
    BleFormat.ARANET4: SensorKind.ARANET4,
    BleFormat.BTHOME_V2: SensorKind.BTHOME,
    BleFormat.ATC1441: SensorKind.XIAOMI_ATC,
    BleFormat.PVVX: SensorKind.XIAOMI_ATC,
}


_SAME_MEASUREMENT_S = 2.0
"""Age is whole seconds and adverts arrive with some latency: 2 s apart is the same reading."""


class AdapterError(RuntimeError):
    """The Bluetooth adapter would not start scanning within the retry budget; ``reason`` says
    why in words a technician can act on."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


ProblemCallback = Callable[[str, DecodeReason, str], None]
"""(address, reason, message): a configured device sends adverts that give no readings."""


@dataclass
class DeviceStats:
    adverts: int = 0
    samples: int = 0
    duplicates: int = 0
    decode_errors: int = 0
    last_error: str | None = None


@dataclass
class SourceStats:
    adverts: int = 0
    unknown_adverts: int = 0
    start_failures: int = 0
    stop_failures: int = 0
    recoveries: int = 0
    recoveries_failed: int = 0
    callback_errors: int = 0
    devices: dict[str, DeviceStats] = field(default_factory=dict)


class BleSource:
    """Scan passively and hand configured devices' decoded samples to ``on_sample``.

    ``devices`` maps BLE address → `SensorConfig` (bind keys come from ``bind_key``).
    ``backend`` is a bleak scanner backend class (e.g. `InjectedScanner`); ``None`` means the
    platform's. ``recover`` resets an adapter; by default a real Linux adapter is reset via
    `bluetooth-auto-recovery` and an injected backend is not reset.
    """

    def __init__(
        self,
        devices: Mapping[str, SensorConfig],
        on_sample: Callable[[Sample], None],
        *,
        backend: type[BaseBleakScanner] | None = None,
        adapter: str = "hci0",
        start_attempts: int = 5,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        recover: AdapterRecovery | None = None,
        error_log_interval_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        scanning: Literal["auto", "passive", "active"] = "auto",
        on_problem: ProblemCallback | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` (seconds) tells repeats of an aged measurement from new ones; a simulator
        running faster than real time passes its own. ``scanning``: "auto" scans passively
        where BlueZ can and actively (logged) where it cannot; "passive" refuses to fall back;
        "active" never tries passive. ``on_problem`` hears about configured devices whose
        adverts give no readings (e.g. an Aranet4 with Smart Home integrations off).
        ``monotonic`` times `last_advert_at` for the adapter watchdog: never the wall clock,
        which jumps on a Pi without a real-time clock when NTP first syncs."""
        self._clock = clock
        self._monotonic = monotonic
        self.scanning = scanning
        self.mode: ScanningMode | None = None
        """The mode of the running (or last) scan."""
        self._passive_ok = scanning != "active"
        self._on_problem = on_problem
        self.last_advert_at: float | None = None
        """``monotonic()`` of the last advert from any configured device (adapter watchdog)."""
        self.last_error: str | None = None
        self.bluez_version: str | None = None
        """BlueZ's version (``bluetoothctl --version``) once checked on the real backend."""
        if start_attempts < 1:
            raise ValueError("start_attempts must be at least 1")
        self._devices = {addr.upper(): cfg for addr, cfg in devices.items()}
        self._keys: dict[str, bytes] = {}
        for addr, cfg in self._devices.items():
            if cfg.bind_key is not None:
                try:
                    self._keys[addr] = parse_bind_key(cfg.bind_key)
                except ValueError as exc:
                    raise ValueError(f"sensor {cfg.id} ({addr}): {exc}") from None
        self._kinds = frozenset(cfg.kind for cfg in self._devices.values())
        import_decoders(f for f, kind in FORMAT_KIND.items() if kind in self._kinds)
        self._on_sample = on_sample
        self._backend = backend
        self.adapter = adapter
        self._start_attempts = start_attempts
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._recover = (
            recover if recover is not None else (recover_linux_adapter if backend is None else None)
        )
        self._error_log_interval_s = error_log_interval_s
        self._last_seq: dict[str, int] = {}
        self._last_measured: dict[str, float] = {}
        self._last_error_log: dict[str, float] = {}
        self._scanner: BleakScanner | None = None
        self._lock = asyncio.Lock()
        self.unknown_devices: dict[str, str] = {}
        """Address → what it decoded as, for commissioning; each logged once."""
        self.stats = SourceStats()

    async def __aenter__(self) -> BleSource:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def now(self) -> float:
        """The source's monotonic clock (seconds): what `last_advert_at` is measured with."""
        return self._monotonic()

    @property
    def devices(self) -> Mapping[str, SensorConfig]:
        """The configured devices, by upper-case address."""
        return self._devices

    @property
    def running(self) -> bool:
        return self._scanner is not None

    async def start(self) -> None:
        """Start passive scanning; retries with capped jittered backoff and adapter resets.
        Raises `AdapterError` when the budget is spent."""
        async with self._lock:
            if self._scanner is None:
                self._scanner = await self._start_with_retry()

    async def close(self) -> None:
        """Stop scanning. Safe to call twice; a failing stop is counted, not raised."""
        async with self._lock:
            scanner, self._scanner = self._scanner, None
            if scanner is not None:
                await self._stop(scanner)

    async def restart(self) -> None:
        """Stop and start again (for a watchdog that finds the adapter silent)."""
        await self.close()
        await self.start()

    async def _stop(self, scanner: BleakScanner) -> None:
        try:
            await scanner.stop()
        except retryable_errors() as exc:
            self.stats.stop_failures += 1
            _LOG.warning("Bluetooth adapter %s: stopping the scan failed: %s", self.adapter, exc)

    def _new_scanner(self, mode: ScanningMode) -> BleakScanner:
        return BleakScanner(
            self._on_advert,
            backend=self._backend,
            **scanner_kwargs(self.adapter, mode, self._kinds),
        )

    async def _check_bluez(self) -> None:
        """Once, on the real backend: which BlueZ this is; one too old for passive scanning
        is not asked (logged with what is needed)."""
        if self._backend is not None or self.bluez_version is not None:
            return
        self.bluez_version = await bluez_version() or "unknown"
        _LOG.info("Bluetooth adapter %s: BlueZ %s", self.adapter, self.bluez_version)
        parsed = parse_version(self.bluez_version)
        if self._passive_ok and parsed is not None and parsed < MIN_PASSIVE_BLUEZ:
            self._passive_impossible()

    def _passive_impossible(self) -> None:
        """Passive scanning cannot work here: fall back (auto) or refuse (passive)."""
        version = None if self.bluez_version in (None, "unknown") else self.bluez_version
        da, en = passive_hint(version)
        if self.scanning == "passive":
            reason = f"adapter {self.adapter}: {en}"
            raise AdapterError(f"Bluetooth-adapter {self.adapter}: {da} / {reason}", reason)
        self._passive_ok = False
        _LOG.warning(
            "Bluetooth-adapter %s scanner aktivt i stedet for passivt: %s / adapter %s: scanning "
            "actively instead of passively: %s",
            self.adapter,
            da,
            self.adapter,
            en,
        )

    async def _start_once(self) -> BleakScanner:
        """One start; an "auto" source whose BlueZ cannot scan passively falls back to active
        scanning at once (logged with what passive scanning needs)."""
        await self._check_bluez()
        mode: ScanningMode = "passive" if self._passive_ok else "active"
        scanner = self._new_scanner(mode)
        try:
            await scanner.start()
        except retryable_errors() as exc:
            if mode != "passive" or not passive_unsupported(exc):
                raise
            if self.bluez_version is None:
                self.bluez_version = await bluez_version()
            self._passive_impossible()
            scanner = self._new_scanner("active")
            await scanner.start()
            mode = "active"
        self.mode = mode
        _LOG.info("Bluetooth adapter %s: scanning (%s)", self.adapter, mode)
        return scanner

    async def _start_with_retry(self) -> BleakScanner:
        delays = backoff_delays(self._start_attempts - 1, *self._backoff)
        last: BaseException | None = None
        for attempt in range(self._start_attempts):
            try:
                scanner = await self._start_once()
            except retryable_errors() as exc:
                last = exc
                self.last_error = unavailable_reason(exc, self.adapter)
                self.stats.start_failures += 1
                _LOG.warning(
                    "Bluetooth-adapter %s kunne ikke starte scanning (forsøg %d/%d) / "
                    "adapter would not start scanning: %s",
                    self.adapter,
                    attempt + 1,
                    self._start_attempts,
                    self.last_error,
                )
                if attempt + 1 == self._start_attempts:
                    break
                await self.reset_adapter()
                await asyncio.sleep(delays[attempt])
            else:
                self.last_error = None
                return scanner
        reason = self.last_error or str(last)
        raise AdapterError(
            f"Bluetooth-adapter {self.adapter} startede ikke efter {self._start_attempts} forsøg"
            f" / adapter {self.adapter} would not start scanning after {self._start_attempts}"
            f" attempts ({reason}) — check `bluetoothctl show`, then power-cycle the adapter",
            reason,
        )

    async def reset_adapter(self, *, gone_silent: bool = False) -> None:
        """Reset the adapter (bluetooth-auto-recovery for a real one); counted, never raises.
        ``gone_silent``: it scanned but delivered nothing (escalate to a USB reset)."""
        await self._try_recover(gone_silent=gone_silent)

    async def _try_recover(self, *, gone_silent: bool = False) -> None:
        if self._recover is None:
            return
        try:
            ok = await self._recover(self.adapter, gone_silent=gone_silent)
        except Exception:
            _LOG.warning("adapter %s: reset raised", self.adapter, exc_info=True)
            ok = False
        if ok:
            self.stats.recoveries += 1
        else:
            self.stats.recoveries_failed += 1

    # -- advertisements -------------------------------------------------------------------

    def _on_advert(self, device: BLEDevice, adv: AdvertisementData) -> None:
        try:
            self.handle(
                RawAdvert(
                    address=device.address,
                    rssi=adv.rssi,
                    manufacturer_data=adv.manufacturer_data,
                    service_data=adv.service_data,
                    local_name=adv.local_name,
                )
            )
        except Exception:  # never raise into bleak's loop
            self.stats.callback_errors += 1
            _LOG.exception("BLE advertisement handler failed")

    def handle(self, advert: RawAdvert) -> None:
        """Decode one advertisement and pass it on if it is a configured device's new sample."""
        self.stats.adverts += 1
        address = advert.address.upper()
        config = self._devices.get(address)
        if config is None:
            self._note_unknown(address, advert)
            return
        dstats = self.stats.devices.setdefault(address, DeviceStats())
        dstats.adverts += 1
        self.last_advert_at = self._monotonic()
        result = decode(advert, self._keys.get(address))
        if isinstance(result, DecodeError):
            self._decode_failed(config, address, dstats, result.reason, result.message)
            return
        expected = FORMAT_KIND[result.format]
        if expected is not config.kind:
            self._decode_failed(
                config,
                address,
                dstats,
                DecodeReason.NOT_SUPPORTED,
                f"{address} sends {result.format} but is configured as {config.kind} — "
                "fix `kind` in the gateway config",
            )
            return
        if self._is_duplicate(address, result):
            dstats.duplicates += 1
            return
        dstats.samples += 1
        self._on_sample(
            Sample(
                device=address,
                values=result.values,
                sequence=result.sequence,
                rssi_dbm=advert.rssi,
                age_s=result.age_s,
                interval_s=result.interval_s,
            )
        )

    def _is_duplicate(self, address: str, result: Decoded) -> bool:
        if result.sequence is None:
            return self._is_repeat_by_age(address, result.age_s)
        if self._last_seq.get(address) == result.sequence:
            return True
        self._last_seq[address] = result.sequence
        return False

    def _is_repeat_by_age(self, address: str, age_s: float | None) -> bool:
        """Aranet4 has no sequence number but says how old its measurement is: adverts whose
        measurement instant (now − age) agrees within `_SAME_MEASUREMENT_S` are one measurement."""
        if age_s is None:
            return False
        measured = self._clock() - age_s
        last = self._last_measured.get(address)
        if last is not None and abs(measured - last) < _SAME_MEASUREMENT_S:
            return True
        self._last_measured[address] = measured
        return False

    def _decode_failed(
        self,
        config: SensorConfig,
        address: str,
        dstats: DeviceStats,
        reason: DecodeReason,
        message: str,
    ) -> None:
        dstats.decode_errors += 1
        dstats.last_error = message
        if self._on_problem is not None:
            self._on_problem(address, reason, message)
        now = time.monotonic()
        last = self._last_error_log.get(address)
        if last is None or now - last >= self._error_log_interval_s:
            self._last_error_log[address] = now
            _LOG.warning(
                "sensor %s (%s/%s/%s): %s [%d decode errors so far]",
                config.id,
                config.building,
                config.flat,
                config.room,
                message,
                dstats.decode_errors,
            )

    def _note_unknown(self, address: str, advert: RawAdvert) -> None:
        self.stats.unknown_adverts += 1
        if address in self.unknown_devices or len(self.unknown_devices) >= MAX_UNKNOWN_DEVICES:
            return  # listed already, or the list is full (still counted in stats)
        fmt = identify(advert)
        if fmt is None:
            return  # not a sensor format we know: not worth listing
        if FORMAT_KIND[fmt] not in self._kinds:  # listed by format; its library is not loaded
            self.unknown_devices[address] = str(fmt)
            _LOG.info(
                "ukendt sensor / unknown sensor %s (%s) — not in the gateway config", address, fmt
            )
            return
        result = decode(advert)
        if isinstance(result, DecodeError) and result.format is None:
            return  # not a sensor format we know: not worth listing
        what = str(result.format) if isinstance(result, Decoded) else str(result)
        self.unknown_devices[address] = what
        _LOG.info(
            "ukendt sensor / unknown sensor %s (%s) — not in the gateway config", address, what
        )
