"""``indeklima gateway``: run the gateway (default) or ``scan`` for nearby BLE sensors."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("run", "scan"),
        default="run",
        help="run (default): read sensors and send readings; "
        "scan: list nearby BLE devices with what they report",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("gateway.toml"),
        help="gateway settings (TOML; see deploy/gateway.example.toml)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="scan: how long to listen (default 10 s)",
    )
    parser.add_argument(
        "--adapter",
        default=None,
        help="Bluetooth adapter (default: [ble] adapter of the config, else hci0)",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "scan":
        return _scan(args)
    from edge.config import GatewayConfig
    from edge.runner import run_gateway

    edge_log = logging.getLogger("edge")
    if edge_log.getEffectiveLevel() > logging.INFO:
        edge_log.setLevel(logging.INFO)  # a service's progress lines belong in its journal
    try:
        config = GatewayConfig.load(args.config)
    except ValueError as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        gateway = await run_gateway(config, stop, ble_adapter=args.adapter)
        if gateway.ble is not None and gateway.ble.state == "unavailable":
            log.warning("Bluetooth was unavailable at stop: %s", gateway.ble.reason)
        log.info("gateway stopped; %d readings still in the outbox", gateway.outbox.pending)

    asyncio.run(main())
    return 0


EXIT_NO_BLUETOOTH = 3


def _scan(args: argparse.Namespace) -> int:
    from edge.sensors.ble.scan import ScanUnavailable, scan

    adapter = args.adapter or "hci0"

    def fallback(needs: str) -> None:
        sys.stderr.write(
            f"bemærk: passiv scanning er ikke mulig her; scanner aktivt / note: {needs}; "
            "scanning actively\n"
        )

    try:
        results = asyncio.run(scan(args.duration, adapter=adapter, on_fallback=fallback))
    except ScanUnavailable as exc:
        sys.stderr.write(
            f"fejl: Bluetooth kan ikke bruges på denne maskine (adapter {adapter}) — intet at "
            f"scanne med / error: Bluetooth is not available on this machine (adapter "
            f"{adapter}): {exc}\n"
        )
        return EXIT_NO_BLUETOOTH
    for result in results:
        sys.stdout.write(
            json.dumps(
                {
                    "address": result.address,
                    "rssi_dbm": result.rssi,
                    "format": str(result.format) if result.format else None,
                    "values": result.values.quantities() if result.values else None,
                    "reason": result.reason,
                    "name": result.local_name,
                },
                ensure_ascii=False,
            )
            + "\n"
        )
    if not results:
        sys.stderr.write(
            f"ingen BLE-enheder fundet på {args.duration:.0f} s / "
            f"no BLE devices heard in {args.duration:.0f} s\n"
        )
    return 0
