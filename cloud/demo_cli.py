"""``indeklima demo``: flags (see cloud/demo.py for what runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flats",
        type=int,
        default=None,
        metavar="N",
        help="flats in the simulated building (default: the shipped scenario)",
    )
    parser.add_argument(
        "--days",
        type=float,
        default=None,
        metavar="D",
        help="simulate D days ending now, then exit (default: fill the last day, "
        "then keep running)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        metavar="X",
        help="simulated seconds per real second (default: as fast as possible "
        "with --days, 1 afterwards)",
    )
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        metavar="P",
        help="port of the API; log in as admin, technician, finance, finance2 or "
        "resident-<flat> (database URLs in DATA_DIR/api.env)",
    )
    parser.add_argument(
        "--demo-password",
        metavar="PW",
        default=None,
        help="password of every demo account (at least 10 characters); default: a random "
        "one, printed once at start",
    )
    parser.add_argument("--no-web", action="store_true", help="do not serve the API")
    parser.add_argument(
        "--no-ventilation-control",
        action="store_true",
        help="no motorised windows: residents open and close them by hand only "
        "(the baseline of bench/bench_ventilation.py)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    parser.add_argument("--mqtt-url", metavar="URL", help="use this broker, not a private one")
    parser.add_argument(
        "--influx-url",
        metavar="URL",
        help="use this InfluxDB (1.x HTTP API), not the embedded SQLite store",
    )
    parser.add_argument("--influx-db", default="indeklima", metavar="DB")
    parser.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="keep the demo's files here (default: a new temporary folder)",
    )


def run(args: argparse.Namespace) -> int:
    from cloud.demo import DemoOptions, run_demo, summary_json

    if args.flats is not None and args.flats < 1:
        sys.stderr.write("fejl / error: --flats must be at least 1\n")
        return 2
    opts = DemoOptions(
        flats=args.flats,
        days=args.days,
        speed=args.speed,
        seed=args.seed,
        port=args.port,
        web=not args.no_web,
        mqtt_url=args.mqtt_url,
        influx_url=args.influx_url,
        influx_db=args.influx_db,
        data_dir=args.data_dir,
        ventilation_control=not args.no_ventilation_control,
        demo_password=args.demo_password,
    )
    try:
        summary = run_demo(opts)
    except (RuntimeError, ValueError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    if args.json:
        sys.stdout.write(summary_json(summary) + "\n")
    else:
        for key, value in summary.items():
            sys.stdout.write(f"{key}: {value}\n")
    return 0 if summary.get("drained", False) else 1
