"""InfluxDB write rate: the raw ceiling against `InfluxStore.write`, side by side in one run.

(a) raw: a plain HTTP client (requests, one connection) posts pre-formatted line protocol,
    5,000 lines per request, 3 float fields per point — InfluxDB's own ceiling here;
(b) `InfluxStore.write` of `Point` objects, the same data, formatting included, with and without
    gzip.

Run: ``python bench/bench_influx_raw.py [--points 200000] [--repeats 3]``. Prints points/s
medians and the ratios b/a. The lead's ingest benchmark imports `raw_write_rate`.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import requests

from cloud.servers import InfluxServer
from cloud.store.base import CLIMATE, Point
from cloud.store.influx import InfluxStore

BATCH_LINES = 5_000
T0_NS = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
_runs = itertools.count()


def make_points(n_points: int, start_ns: int, n_sensors: int = 300) -> list[Point]:
    """`n_points` climate readings of `n_sensors` sensors (3 per flat), one every second each."""
    points = []
    for i in range(n_points):
        sensor = i % n_sensors
        tags = {
            "building": "B1",
            "flat": f"F{sensor // 3:03d}",
            "room": ("stue", "bad", "sove")[sensor % 3],
            "sensor": f"S{sensor:04d}",
        }
        fields = {
            "temperature_c": 20.0 + (i % 50) / 10,
            "humidity_pct": 40.0 + (i % 300) / 10,
            "co2_ppm": 400.0 + i % 1000,
        }
        points.append(Point(CLIMATE, tags, fields, start_ns + (i // n_sensors) * 10**9))
    return points


def raw_bodies(points: list[Point]) -> list[bytes]:
    """Line protocol for the points (plain names: no escaping needed), 5,000 lines a body."""
    lines = [
        f"{p.measurement},building={p.tags['building']},flat={p.tags['flat']},"
        f"room={p.tags['room']},sensor={p.tags['sensor']} "
        f"temperature_c={p.fields['temperature_c']!r},humidity_pct={p.fields['humidity_pct']!r},"
        f"co2_ppm={p.fields['co2_ppm']!r} {p.time_ns}"
        for p in points
    ]
    return [
        "\n".join(lines[i : i + BATCH_LINES]).encode() for i in range(0, len(lines), BATCH_LINES)
    ]


def _fresh_start_ns() -> int:
    """A time range no earlier run wrote, so every run stores new points."""
    return T0_NS + next(_runs) * 10**15


def raw_write_rate(url: str, db: str, n_points: int) -> float:
    """InfluxDB's own line-protocol write rate (points/s) from a plain HTTP client: formatting
    happens before the clock starts; one connection, 5,000-line requests, no compression."""
    bodies = raw_bodies(make_points(n_points, _fresh_start_ns()))
    with requests.Session() as session:
        session.post(f"{url}/query", data={"q": f'CREATE DATABASE "{db}"'}, timeout=30)
        started = time.perf_counter()
        for body in bodies:
            answer = session.post(
                f"{url}/write", params={"db": db, "precision": "ns"}, data=body, timeout=60
            )
            answer.raise_for_status()
        return n_points / (time.perf_counter() - started)


def store_write_rate(url: str, db: str, n_points: int, *, gzip: bool = True) -> float:
    """`InfluxStore.write` rate (points/s) for ready `Point` objects, formatting included."""
    points = make_points(n_points, _fresh_start_ns())
    with InfluxStore(url, db, gzip=gzip, timeout_s=60) as store:
        started = time.perf_counter()
        store.write(points)
        return n_points / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"raw": [], "store gzip": [], "store plain": []}
    with InfluxServer() as server:
        raw_write_rate(server.url, "warmup", 20_000)
        for repeat in range(args.repeats):
            rates["raw"].append(raw_write_rate(server.url, "bench", args.points))
            rates["store gzip"].append(store_write_rate(server.url, "bench", args.points))
            rates["store plain"].append(
                store_write_rate(server.url, "bench", args.points, gzip=False)
            )
            print(
                f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items())
            )
    medians = {k: statistics.median(v) for k, v in rates.items()}
    print(
        f"\n{args.points:,} points, 3 fields, {BATCH_LINES:,}-line batches, {args.repeats} repeats"
    )
    print(f"(a) raw HTTP client, pre-formatted:      {medians['raw']:>10,.0f} points/s (median)")
    for key in ("store gzip", "store plain"):
        label = f"(b) InfluxStore.write, {'gzip' if key == 'store gzip' else 'no gzip'}:"
        ratio = medians[key] / medians["raw"]
        print(f"{label:<40}{medians[key]:>10,.0f} points/s (median)  b/a = {ratio:.2f}")
    for key in ("store gzip", "store plain"):
        verdict = "met" if medians[key] >= 100_000 else "NOT met"
        print(f"target (b) >= 100,000 points/s, {key.removeprefix('store ')}: {verdict}")


if __name__ == "__main__":
    main()
