"""The BLE side of a running gateway: keep the scanner going without ever stopping the rest.

`BleSupervisor.run` owns a `BleSource` until the stop event:

* **unavailable** — the scan will not start (no adapter, no D-Bus/BlueZ, BlueZ refusing): the
  reason goes into the retained status and the log, and it is tried again with capped, jittered
  exponential backoff (up to ``[ble] retry_max_s``). Serial sensors, the outbox and the uplink
  carry on meanwhile.
* **scanning** — adverts arrive (passive, or active where BlueZ cannot do passive).
* **silent** — no advert from any configured BLE sensor for ``[ble] silent_after_s`` while the
  scan runs: the Raspberry Pi adapter lock-up. First the scan is restarted; if it stays silent,
  the adapter is reset with `bluetooth-auto-recovery` and the scan started again — at most
  ``max_resets`` resets in a row, then only restarts (the status and log say to power-cycle).
  While silent or unavailable the sensors' silence alerts name the adapter, not their batteries.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime

from edge.config import BleConfig
from edge.sensors.ble.source import AdapterError, BleSource
from edge.wire import BleHealth, BleState

_LOG = logging.getLogger(__name__)

Report = Callable[[BleHealth], None]
RETRY_INITIAL_S = 2.0


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True when ``stop`` was set meanwhile."""
    try:
        async with asyncio.timeout(max(0.0, seconds)):
            await stop.wait()
    except TimeoutError:
        return False
    return True


class BleSupervisor:
    def __init__(
        self,
        source: BleSource,
        config: BleConfig,
        report: Report,
        wall: Callable[[], datetime],
        *,
        check_s: float | None = None,
        retry_initial_s: float = RETRY_INITIAL_S,
        rng: random.Random | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self._report = report
        self._wall = wall
        self.check_s = check_s if check_s is not None else min(10.0, config.silent_after_s / 6)
        self._retry_initial_s = retry_initial_s
        self._rng = rng or random.Random()
        self.state: BleState = "starting"
        self.reason: str | None = None
        self.start_failures = 0
        self.restarts = 0
        self.resets = 0
        self._restarts_in_row = 0
        self._resets_in_row = 0

    def _set(self, state: BleState, reason: str | None = None) -> None:
        changed = (state, reason) != (self.state, self.reason)
        self.state, self.reason = state, reason
        if changed:
            if state == "scanning":
                _LOG.info(
                    "Bluetooth-adapter %s scanner (%s) / adapter %s scanning (%s)",
                    self.source.adapter,
                    self.source.mode,
                    self.source.adapter,
                    self.source.mode,
                )
            else:
                _LOG.warning(
                    "Bluetooth-adapter %s: %s / Bluetooth adapter %s: %s — %s",
                    self.source.adapter,
                    {"silent": "leverer ingen data", "unavailable": "utilgængelig"}.get(
                        state, state
                    ),
                    self.source.adapter,
                    state,
                    reason,
                )
        self._report(
            BleHealth(
                adapter=self.source.adapter,
                state=state,
                mode=self.source.mode if state != "unavailable" else None,
                reason=reason,
                since_ms=int(self._wall().timestamp() * 1000),
                restarts=self.restarts,
                resets=self.resets,
                bluez=self.source.bluez_version,
            )
        )

    def _retry_delay(self, failures: int) -> float:
        cap = min(self.config.retry_max_s, self._retry_initial_s * 2 ** min(failures, 30))
        return self._rng.uniform(cap / 2, cap)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: start, watch, restart, reset. Never raises an adapter fault."""
        self._set("starting")
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self.source.start()
                except AdapterError as exc:
                    self.start_failures += 1
                    delay = self._retry_delay(failures)
                    failures += 1
                    self._set("unavailable", exc.reason)
                    _LOG.info(
                        "Bluetooth adapter %s unavailable (attempt %d); next try in %.0f s",
                        self.source.adapter,
                        failures,
                        delay,
                    )
                    if await _stopped_within(stop, delay):
                        return
                    continue
                failures = 0
                self._set("scanning")
                if await self._watch(stop):
                    return
        finally:
            await self.source.close()

    async def _watch(self, stop: asyncio.Event) -> bool:
        """Watch a running scan; True on stop, False when a restart failed (unavailable)."""
        reference = self.source.now()
        while not await _stopped_within(stop, self.check_s):
            last = self.source.last_advert_at
            if last is not None and last >= reference:
                reference = last
                if self.state != "scanning":
                    self._restarts_in_row = self._resets_in_row = 0
                    self._set("scanning")
            if self.source.now() - reference < self.config.silent_after_s:
                continue
            try:
                await self._revive()
            except AdapterError:
                return False
            reference = self.source.now()
        return True

    async def _revive(self) -> None:
        """The scan runs but nothing arrives: restart it, then (bounded) reset the adapter."""
        silent_s = self.config.silent_after_s
        devices = len(self.source.devices)
        if self._restarts_in_row >= 1 and self._resets_in_row < self.config.max_resets:
            self._resets_in_row += 1
            self.resets += 1
            what = (
                f"no advert from any of {devices} configured sensors for {silent_s:.0f} s after "
                f"a restart — adapter reset {self._resets_in_row}/{self.config.max_resets}"
            )
            self._set("silent", what)
            await self.source.close()
            await self.source.reset_adapter(gone_silent=True)
        else:
            self._restarts_in_row += 1
            self.restarts += 1
            what = f"no advert from any of {devices} configured sensors for {silent_s:.0f} s"
            if self._resets_in_row >= self.config.max_resets and self.config.max_resets:
                what += (
                    f"; {self._resets_in_row} adapter resets did not help — power-cycle the "
                    "gateway or replace the adapter"
                )
            self._set("silent", f"{what} — scan restarted")
        await self.source.restart()
