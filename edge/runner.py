"""Run a gateway with its real sensor drivers: BLE (bleak) and serial pollers, one owner.

`run_gateway` owns every driver through an `AsyncExitStack` and a `TaskGroup`; leaving it (stop
event set, or an error) closes the drivers first, then commits what is in hand and closes the
uplink and outbox. BLE never stops the gateway: the `BleSupervisor` reports an unavailable or
silent adapter in the status and keeps trying, while the serial sensors go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from edge.config import SERIAL_KINDS, GatewayConfig
from edge.gateway import BackfillRequest, Clock, Gateway, utc_now

log = logging.getLogger(__name__)

BLE_START_ATTEMPTS = 2
"""Attempts (with one adapter reset between) per start; the supervisor retries beyond that."""


async def run_gateway(
    config: GatewayConfig,
    stop: asyncio.Event,
    *,
    ble_backend: type[BaseBleakScanner] | None = None,
    ble_adapter: str | None = None,
    ble_client_backend: type[BaseBleakClient] | None = None,
    clock: Clock = utc_now,
) -> Gateway:
    """Run until ``stop`` is set; returns the (closed) gateway for its figures.
    ``ble_adapter`` overrides ``[ble] adapter`` of the config."""
    from edge.sensors.ble.source import BleSource
    from edge.sensors.ble.supervisor import BleSupervisor
    from edge.sensors.serial.poller import SerialPoller, group_by_port

    gateway = Gateway(config, clock=clock)
    loop = asyncio.get_running_loop()
    wake_backfill = asyncio.Event()

    def wake() -> None:
        loop.call_soon_threadsafe(wake_backfill.set)

    gateway.backfill_wakeup = wake
    with gateway:
        async with contextlib.AsyncExitStack() as drivers:
            for port, sensors in group_by_port(config.sensors).items():
                log.info("polling %d serial sensors on %s", len(sensors), port)
                await drivers.enter_async_context(SerialPoller(sensors, gateway.on_sample))
            ble = {s.device: s for s in config.sensors if s.kind not in SERIAL_KINDS}
            log.info("gateway %s running with %d sensors", config.gateway_id, len(config.sensors))
            async with asyncio.TaskGroup() as tasks:
                owned = [
                    tasks.create_task(
                        backfill_worker(gateway, wake_backfill, ble_client_backend),
                        name="backfill",
                    )
                ]
                if ble:
                    source = BleSource(
                        ble,
                        gateway.on_sample,
                        backend=ble_backend,
                        adapter=ble_adapter or config.ble.adapter,
                        scanning=config.ble.scanning,
                        on_problem=gateway.on_problem,
                        start_attempts=BLE_START_ATTEMPTS,
                        clock=lambda: gateway.clock().timestamp(),  # the clock that stamps
                    )
                    supervisor = BleSupervisor(source, config.ble, gateway.set_ble, gateway.clock)
                    owned.append(tasks.create_task(supervisor.run(stop), name="ble"))
                await stop.wait()
                for task in owned:  # a GATT download or a BlueZ call may be mid-way
                    task.cancel()
    return gateway


async def backfill_worker(
    gateway: Gateway, wake: asyncio.Event, client_backend: type[BaseBleakClient] | None = None
) -> None:
    """Fetch each queued gap (`Gateway.take_backfills`) from the device's history, one device
    at a time, until cancelled. Failures are logged, never raised: the live readings go on."""
    while True:
        await wake.wait()
        wake.clear()
        for request in gateway.take_backfills():
            await backfill(gateway, request, client_backend)


async def backfill(
    gateway: Gateway, request: BackfillRequest, client_backend: type[BaseBleakClient] | None = None
) -> int:
    """Fill one Aranet4's gap between two live readings (exclusive: no duplicates at the edges)
    from the device's own history (GATT). Returns readings added."""
    from edge.sensors.ble.backfill import BackfillError, fetch_aranet4_history, gap_to_backfill

    sensor = request.sensor
    window = gap_to_backfill(request.last_before, request.first_after, request.interval_s)
    if window is None or sensor.address is None:
        return 0
    try:
        samples = await fetch_aranet4_history(
            sensor.address,
            *window,
            interval_s=request.interval_s,
            client_backend=client_backend,
            clock=gateway.clock,
        )
    except BackfillError as exc:
        log.warning("backfill of %s (%s) failed: %s", sensor.id, sensor.address, exc)
        return 0
    except Exception:  # a bug here must not stop the live readings
        log.exception("backfill of %s (%s) failed unexpectedly", sensor.id, sensor.address)
        return 0
    for sample in samples:
        gateway.on_sample(sample)
    log.info(
        "backfilled %d readings of %s from its history (%s .. %s)",
        len(samples),
        sensor.id,
        *window,
    )
    return len(samples)
