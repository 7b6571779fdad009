"""Mould job throughput: 10,000 flats × 5,000 hourly steps (≈ one heating season).

Vectorised (cloud.analytics: surface transform + VTT model, numpy across flats, loop over time)
against the plain scalar reference (the one in tests/test_analytics_vtt.py, one flat at a time,
pure Python) on a sample of flats, extrapolated per flat-step. Median of 3 runs each.

    python bench/bench_mould.py [--flats 10000] [--hours 5000] [--sample 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloud.analytics import vtt
from cloud.analytics.surface import surface_conditions
from tests.test_analytics_vtt import reference_mould_index

CHUNK_HOURS = 100
"""Inputs are generated and fed in blocks of 100 hours (10,000 × 5,000 never sits in memory;
smaller arrays stay in the CPU cache)."""


def synthetic_block(
    rng: np.random.Generator, start_hour: int, hours: int, n_flats: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Room T/RH per flat with daily cycles and flat-to-flat spread; 5 % damp flats."""
    h = np.arange(start_hour, start_hour + hours)[:, None]
    day = np.sin(2 * np.pi * h / 24)
    outdoor = (3 + 5 * np.sin(2 * np.pi * h / (24 * 180)) + 3 * day)[:, 0]
    base_t = rng.normal(20.5, 1.5, n_flats)
    base_rh = np.where(rng.random(n_flats) < 0.05, 70.0, rng.normal(45, 6, n_flats))
    t_room = base_t + 0.8 * day + rng.normal(0, 0.3, (hours, n_flats))
    rh_room = base_rh - 4 * day + rng.normal(0, 2, (hours, n_flats))
    return t_room, rh_room, outdoor


def vectorised(n_flats: int, hours: int, seed: int = 1) -> tuple[float, float]:
    """Seconds for the whole job (surface + VTT), and the generation time excluded from it."""
    rng = np.random.default_rng(seed)
    frsi = rng.uniform(0.6, 0.8, n_flats)
    state = vtt.VttState.initial(n_flats)
    spent = generating = 0.0
    for start in range(0, hours, CHUNK_HOURS):
        g0 = time.perf_counter()
        t_room, rh_room, outdoor = synthetic_block(
            rng, start, min(CHUNK_HOURS, hours - start), n_flats
        )
        t0 = time.perf_counter()
        generating += t0 - g0
        t_si, rh_si = surface_conditions(t_room, rh_room, outdoor[:, None], frsi[None, :])
        _, state = vtt.run(t_si, rh_si, vtt.Sensitivity.SENSITIVE, 0.5, state)
        spent += time.perf_counter() - t0
    return spent, generating


def worst_case(n_flats: int, hours: int) -> float:
    """Every flat damp every hour (22 °C, 90 % at the surface): all flats grow every step."""
    state = vtt.VttState.initial(n_flats)
    t_si = np.full((CHUNK_HOURS, n_flats), 22.0)
    rh_si = np.full((CHUNK_HOURS, n_flats), 90.0)
    t0 = time.perf_counter()
    for _ in range(0, hours, CHUNK_HOURS):
        _, state = vtt.run(t_si, rh_si, vtt.Sensitivity.SENSITIVE, 0.5, state)
    return time.perf_counter() - t0


def scalar(sample: int, hours: int, seed: int = 1) -> float:
    """Seconds for the scalar reference on `sample` flats (surface transform included)."""
    rng = np.random.default_rng(seed)
    t_room, rh_room, outdoor = synthetic_block(rng, 0, hours, sample)
    frsi = rng.uniform(0.6, 0.8, sample)
    series = []
    for j in range(sample):
        t_si, rh_si = surface_conditions(t_room[:, j], rh_room[:, j], outdoor, frsi[j])
        series.append(list(zip(t_si.tolist(), rh_si.tolist(), strict=True)))
    t0 = time.perf_counter()
    for s in series:
        reference_mould_index(s, "sensitive", 0.5)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flats", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=5_000)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    steps = args.flats * args.hours
    vec = [vectorised(args.flats, args.hours)[0] for _ in range(args.repeat)]
    ref = [scalar(args.sample, args.hours) for _ in range(args.repeat)]
    vec_s = statistics.median(vec)
    ref_per_step = statistics.median(ref) / (args.sample * args.hours)
    ref_extrapolated = ref_per_step * steps
    print(f"mould job, {args.flats} flats x {args.hours} hourly steps (median of {args.repeat})")
    print(f"  vectorised (numpy):   {vec_s:8.2f} s   {vec_s / steps * 1e9:7.1f} ns/flat-step")
    print(
        f"  scalar reference:     {ref_extrapolated:8.2f} s   "
        f"{ref_per_step * 1e9:7.1f} ns/flat-step   (measured on {args.sample} flats, extrapolated)"
    )
    print(f"  ratio scalar/vectorised: {ref_extrapolated / vec_s:.0f}x")
    worst = worst_case(args.flats, args.hours)
    print(f"  worst case, every flat growing every hour (VTT only, 1 run): {worst:.2f} s")
    print(f"  target < 10 s: {'met' if vec_s < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
