"""A gateway process fed by synthetic sensors — the hardware boundary of the fault tests.

``python -m tests.feeder --config gw.toml --total N --rate R`` produces sample i (i = 0..N-1)
for sensor ``s<i % sensors>`` at time START + i·10 s, resuming after a SIGKILL from the number of
readings the outbox had committed, then waits until ingest confirmed everything and prints a
JSON line ``{"added": ..., "dropped": ...}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from edge.config import GatewayConfig
from edge.gateway import Gateway
from edge.sensors.model import Sample, SensorValues

START = datetime(2026, 1, 5, tzinfo=UTC)


def sample(i: int, sensors: int) -> Sample:
    device = f"AA:BB:CC:DD:00:{i % sensors:02X}"
    return Sample(
        device,
        SensorValues(temperature_c=20.0 + (i % 100) / 100, co2_ppm=400.0 + i % 997),
        time=START + timedelta(seconds=10 * i),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--total", type=int, required=True)
    parser.add_argument("--rate", type=float, default=2000.0, help="samples per second")
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    args = parser.parse_args()
    config = GatewayConfig.load(args.config)
    sensors = len(config.sensors)
    with Gateway(config, commit_interval_s=0.05) as gateway:
        start_i = gateway.outbox.added
        t0 = time.monotonic()
        for n, i in enumerate(range(start_i, args.total)):
            gateway.on_sample(sample(i, sensors))
            if n % 50 == 49:
                gateway.flush()
                if n % 500 == 499:  # progress for the fault tests (committed to the outbox)
                    sys.stderr.write(f"fed {gateway.outbox.added}\n")
                    sys.stderr.flush()
                lag = (n + 1) / args.rate - (time.monotonic() - t0)
                if lag > 0:
                    time.sleep(lag)
        gateway.flush()
        drained = gateway.uplink.wait_drained(args.drain_timeout)
        report = {
            "added": gateway.outbox.added,
            "dropped": gateway.outbox.dropped,
            "drained": drained,
            "pending": gateway.outbox.pending,
        }
    sys.stdout.write(orjson.dumps(report).decode() + "\n")
    return 0 if drained else 1


if __name__ == "__main__":
    sys.exit(main())
