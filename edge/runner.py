"""Run a gateway with its real sensor drivers: BLE (bleak) and serial pollers, one owner.

`run_gateway` owns every driver through an `AsyncExitStack`; leaving it (stop event set, or an
error) closes the drivers first, then commits what is in hand and closes the uplink and outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

from edge.config import SERIAL_KINDS, GatewayConfig, SensorKind
from edge.gateway import Clock, Gateway, utc_now

log = logging.getLogger(__name__)


async def run_gateway(
    config: GatewayConfig,
    stop: asyncio.Event,
    *,
    ble_backend: type[BaseBleakScanner] | None = None,
    ble_adapter: str = "hci0",
    ble_client_backend: type[BaseBleakClient] | None = None,
    clock: Clock = utc_now,
) -> Gateway:
    """Run until ``stop`` is set; returns the (closed) gateway for its figures."""
    from edge.sensors.ble.source import BleSource
    from edge.sensors.serial.poller import SerialPoller, group_by_port

    gateway = Gateway(config, clock=clock)
    with gateway:
        async with contextlib.AsyncExitStack() as drivers:
            ble = {s.device: s for s in config.sensors if s.kind not in SERIAL_KINDS}
            if ble:
                await drivers.enter_async_context(
                    BleSource(ble, gateway.on_sample, backend=ble_backend, adapter=ble_adapter)
                )
            for port, sensors in group_by_port(config.sensors).items():
                log.info("polling %d serial sensors on %s", len(sensors), port)
                await drivers.enter_async_context(SerialPoller(sensors, gateway.on_sample))
            log.info("gateway %s running with %d sensors", config.gateway_id, len(config.sensors))
            async with asyncio.TaskGroup() as tasks:
                backfill = tasks.create_task(backfill_histories(gateway, ble_client_backend))
                await stop.wait()
                backfill.cancel()
    return gateway


async def backfill_histories(
    gateway: Gateway, client_backend: type[BaseBleakClient] | None = None
) -> int:
    """Fill the outage gap of every Aranet4 from the device's own history (GATT), between the
    last reading committed before the outage and now (exclusive: no duplicates at the edges).
    Failures are logged, never raised: the live readings go on. Returns readings added."""
    from edge.sensors.ble.backfill import BackfillError, fetch_aranet4_history, gap_to_backfill

    last_seen = gateway.outbox.last_seen()
    added = 0
    for sensor in gateway.config.sensors:
        if sensor.kind is not SensorKind.ARANET4 or sensor.address is None:
            continue
        window = gap_to_backfill(
            last_seen.get(sensor.id), gateway.clock(), sensor.expected_interval_s
        )
        if window is None:
            continue
        try:
            samples = await fetch_aranet4_history(
                sensor.address,
                *window,
                interval_s=sensor.expected_interval_s,
                client_backend=client_backend,
            )
        except BackfillError as exc:
            log.warning("backfill of %s (%s) failed: %s", sensor.id, sensor.address, exc)
            continue
        except Exception:  # a bug here must not stop the live readings
            log.exception("backfill of %s (%s) failed unexpectedly", sensor.id, sensor.address)
            continue
        for sample in samples:
            gateway.on_sample(sample)
        added += len(samples)
        log.info(
            "backfilled %d readings of %s from its history (%s .. %s)",
            len(samples),
            sensor.id,
            *window,
        )
    return added
