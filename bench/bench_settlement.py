"""Settle a Danish month of 5-minute data for 10,000 flats: October 2026 in Danish local time
(745 hours: summer time ends), 8,940 steps, 89.4 M samples per quantity.

    python bench/bench_settlement.py [--flats 10000] [--runs 3] [--sample 100]

Generating the synthetic data is not timed. Timed: ``settle`` (hourly means, missing-data rule,
derived airing, points, exact øre allocation, SHA-256 of the canonical inputs) plus the CSV
export. Baseline, in the same run: a naive long-DataFrame pipeline (per-flat pandas groupby:
hourly resample, interpolate, degree-hours against the weather), timed on a sample of flats and
extrapolated linearly to all flats. Prints medians and the ratio. Target: under 30 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from cloud.settlement.engine import settle
from cloud.settlement.export import to_csv_bytes
from cloud.settlement.model import SettlementInputs
from cloud.settlement.series import ClimateSeries, WeatherSeries
from cloud.settlement.synthetic import month_period, random_month
from cloud.settlement.tariff import default_tariff

YEAR, MONTH = 2026, 10  # the longest Danish month: 745 h = 8,940 five-minute steps


def ours(inputs: SettlementInputs) -> float:
    t0 = time.perf_counter()
    result = settle(inputs)
    to_csv_bytes(result)
    elapsed = time.perf_counter() - t0
    assert result.total_ore == inputs.cost_ore
    return elapsed


def long_frame(climate: ClimateSeries, rows: np.ndarray) -> pd.DataFrame:
    times = pd.date_range(climate.start, periods=climate.steps, freq=f"{climate.step_s}s")
    return pd.DataFrame(
        {
            "time": np.tile(times, len(rows)),
            "flat_id": np.repeat(np.array(climate.flat_ids)[rows], climate.steps),
            "temperature_c": climate.temperature_c[rows].ravel(),
            "humidity_pct": climate.humidity_pct[rows].ravel(),
            "co2_ppm": climate.co2_ppm[rows].ravel(),
        }
    )


def baseline(frame: pd.DataFrame, weather: WeatherSeries, areas: pd.Series) -> float:
    """The obvious pandas pipeline, flat by flat."""
    t0 = time.perf_counter()
    te = (
        pd.Series(
            weather.temperature_c,
            index=pd.date_range(weather.start, periods=weather.temperature_c.size, freq="300s"),
        )
        .resample("1h")
        .mean()
    )
    points = {}
    for flat, g in frame.groupby("flat_id"):
        hourly = (
            g.set_index("time")[["temperature_c", "humidity_pct", "co2_ppm"]].resample("1h").mean()
        )
        hourly = hourly.interpolate(limit=3)
        delta = (hourly["temperature_c"].clip(lower=19.0) - te).clip(lower=0.0)
        points[flat] = float(delta[te < 17.0].sum()) * float(areas[flat])
    total = sum(points.values())
    _shares = {f: p / total for f, p in points.items()}
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flats", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=100, help="flats in the baseline sample")
    args = parser.parse_args()

    t0 = time.perf_counter()
    flats, climate, weather = random_month(args.flats, year=YEAR, month=MONTH, seed=42)
    start, end = month_period(YEAR, MONTH)
    inputs = SettlementInputs(
        "BENCH",
        start,
        end,
        987_654_321_00,
        flats,
        climate,
        weather,
        default_tariff(),
        date(2027, 1, 15),
    )
    print(
        f"data: {args.flats} flats x {climate.steps} steps = "
        f"{args.flats * climate.steps / 1e6:.1f} M samples per quantity, "
        f"generated in {time.perf_counter() - t0:.1f} s (not timed)"
    )
    times = [ours(inputs) for _ in range(args.runs)]
    ours_s = statistics.median(times)
    runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"ours (numpy matrix): median {ours_s:.2f} s of {args.runs} ({runs})")

    rows = np.arange(min(args.sample, args.flats))
    frame = long_frame(climate, rows)
    areas = pd.Series({f.flat_id: f.area_m2 for f in flats})
    base = [baseline(frame, weather, areas) for _ in range(args.runs)]
    base_s = statistics.median(base) * args.flats / len(rows)
    print(
        f"baseline (per-flat pandas groupby on {len(rows)} flats, "
        f"extrapolated x{args.flats / len(rows):.0f}): median {base_s:.1f} s"
    )
    print(
        f"ratio baseline/ours: {base_s / ours_s:.1f}x; "
        f"target < 30 s: {'OK' if ours_s < 30 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
