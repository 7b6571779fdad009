"""Run a gateway with its real sensor drivers: BLE (bleak) and serial pollers, one owner.

`run_gateway` owns every driver through an `AsyncExitStack`; leaving it (stop event set, or an
error) closes the drivers first, then commits what is in hand and closes the uplink and outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bleak.backends.scanner import BaseBleakScanner

from edge.config import SERIAL_KINDS, GatewayConfig
from edge.gateway import Clock, Gateway, utc_now

log = logging.getLogger(__name__)


async def run_gateway(
    config: GatewayConfig,
    stop: asyncio.Event,
    *,
    ble_backend: type[BaseBleakScanner] | None = None,
    ble_adapter: str = "hci0",
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
            await stop.wait()
    return gateway
