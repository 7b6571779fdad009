"""Cost of the ``gateway`` tag on ingest's hot path, side by side in one run.

`encode_readings` (ingest's line-protocol fast path) over the same readings, interleaved:
(a) baseline without the tag, (b) with each reading's gateway (what ingest passes now).

Run: ``python bench/bench_gateway_tag.py [--readings 40000] [--repeats 25]``. Prints the medians
and the ratio b/a.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cloud.store.lineprotocol import encode_readings
from edge.wire import Reading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()
    n = args.readings
    readings = [
        Reading(
            time_ms=1_767_225_600_000 + i * 1000,
            building="B1",
            flat=f"F{i % 100}",
            room="stue",
            sensor=f"s{i % 300}",
            values={"temperature_c": 20 + (i % 50) / 10, "humidity_pct": 40 + (i % 30) / 10},
        )
        for i in range(n)
    ]
    gateways = [f"gw-{i % 10}" for i in range(n)]
    texts: dict[float, str] = {}
    encode_readings(readings, texts)  # the float cache warm for both

    def once(tagged: bool) -> float:
        start = time.perf_counter()
        encode_readings(readings, texts, gateways if tagged else None)
        return time.perf_counter() - start

    base, tagged = [], []
    for _ in range(args.repeats):
        base.append(once(False))
        tagged.append(once(True))
    a, b = statistics.median(base), statistics.median(tagged)
    print(
        f"encode_readings, {n:,} readings: (a) no tag {n / a:,.0f}/s, "
        f"(b) gateway tag {n / b:,.0f}/s; time ratio b/a {b / a:.3f}"
    )


if __name__ == "__main__":
    main()
