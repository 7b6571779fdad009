"""Automatic ventilation windows against residents' hands alone: the default winter scenario,
same seed, same simulated days, the whole demo (gateway control loop over Modbus on a pty,
Mosquitto, ingest) with and without `--no-ventilation-control`, side by side.

Figures are the simulator's ground truth (cloud/demo.py): hours a flat's volume-weighted CO2 was
above 1200 ppm and its living-room RH above 60 % (summed over flats), open-window hours
(open fraction × hours, summed) and radiator heat. Target (issue 11): automation at least halves
the CO2 and humidity hours at no more than 10 % extra heat.

    python bench/bench_ventilation.py [--days 3] [--seed 1] [--end 2026-01-22]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud.demo import DemoOptions, run_demo

KEYS = (
    "co2_hours_above_1200_ppm",
    "humidity_hours_above_60_pct",
    "window_open_hours",
    "heat_delivered_kwh",
    "manual_window_operations",
    "wall_s",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--end", default="2026-01-22", help="end date (UTC midnight) of the winter span"
    )
    args = parser.parse_args()
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    runs = {}
    for control in (False, True):
        with tempfile.TemporaryDirectory(prefix="bench-ventilation-") as folder:
            opts = DemoOptions(
                days=args.days,
                seed=args.seed,
                web=False,
                data_dir=Path(folder),
                progress=False,
                ventilation_control=control,
                end=end,
            )
            runs[control] = run_demo(opts)
            if not runs[control]["drained"]:
                print("fejl / error: the demo did not drain", file=sys.stderr)
                return 1
    off, on = runs[False], runs[True]
    print(f"{args.days:g} simulated days to {end:%Y-%m-%d}, seed {args.seed}, {on['flats']} flats")
    print(f"{'':32}{'residents only':>16}{'automation':>14}{'ratio':>9}")
    for key in KEYS:
        a, b = off[key], on[key]
        ratio = f"{b / a:.2f}" if isinstance(a, int | float) and a else "—"
        print(f"{key:32}{a if a is not None else '—':>16}{b:>14}{ratio:>9}")
    co2_ok = on["co2_hours_above_1200_ppm"] <= 0.5 * off["co2_hours_above_1200_ppm"]
    rh_ok = on["humidity_hours_above_60_pct"] <= 0.5 * off["humidity_hours_above_60_pct"]
    heat_ok = on["heat_delivered_kwh"] <= 1.10 * off["heat_delivered_kwh"]
    print(f"target met: CO2 halved {co2_ok}, humidity halved {rh_ok}, heat ≤ +10 % {heat_ok}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
