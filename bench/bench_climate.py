"""A resident's month and year charts over a year of 5-minute data for 100 flats.

    python bench/bench_climate.py [--data DIR] [--flats 100] [--days 365] [--seconds 15]
        [--workers 2 [1 …]] [--api-threads 1] [--threads 8] [--store sqlite|influx]

Data (generated once into ``DIR/climate-<flats>-<days>.sqlite``, the embedded SQLite store, and
kept for the next run; not timed; a folder made before the store's schema 1 is migrated when first
opened — 26 s for the 2.7 M rollup points here): 4 buildings × 25 flats, 3 rooms per flat (living
room and bedroom with a CO2 + temperature + humidity sensor, bathroom with temperature + humidity),
a reading every 5 minutes for a year — 31.5 M raw points — and their hourly and daily rollups, made
from the same arrays with the rollup module's own functions (`hourly_points`, `daily_from_hourly`);
a `refresh_rollups` over the last week afterwards must find nothing to re-roll (the rollups agree
with what the job makes), and one new hour is then rolled by the job and timed.

Timed, with the raw-points baseline in the same run:

1. service level: p50/p95 of `climate_series` for a random flat's month (hourly rollups) and
   year (daily rollups) views, beside the same answer computed from the raw points (the query
   a store without rollups must make: every 5-minute point of the range, grouped per room);
2. HTTP: ``GET /api/flats/{id}/climate`` as the flat's resident — one resident account per flat,
   each logged in through the accounts service (a real session; every request checks it, then
   the scope) — served by the API as ``indeklima api --workers N`` serves it (uvicorn workers
   made by `cloud.api_cli.worker_app`, settings from the environment, ``--api-threads`` threads
   each) and loaded by a second process (threads with keep-alive connections, month and year
   views mixed, random flats) for `--seconds`; requests/s, latency percentiles and the server
   processes' CPU per request. The baseline is the same app serving the same JSON from raw
   points (a bench-only route with the same login, scope check and audit rule).

Targets: p95 ≤ 100 ms for the month and year views; ≥ 300 requests/s.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import requests
from fastapi import APIRouter, Request, Response

from cloud.accounts import FlatView
from cloud.accounts.http import AccountsDep, CurrentPrincipal
from cloud.analytics.climate_series import SERIES_FIELDS, climate_series
from cloud.api.access import check_flat
from cloud.api.deps import FlatDep, Moment, StoreDep
from cloud.api_cli import prepare, worker_app
from cloud.store.base import CLIMATE, Point, TimeSeriesStore
from cloud.store.influx import InfluxStore
from cloud.store.rollup import (
    DAILY,
    HOURLY,
    QUANTITIES,
    STATS,
    daily_from_hourly,
    hourly_points,
    local_day,
    local_day_bounds,
    refresh_rollups,
    stat_field,
)
from cloud.store.sqlite import SqliteStore

END = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
ROOMS = (("stue", True), ("sove", True), ("bad", False))  # (room, has a CO2 sensor)
BUILDINGS = 4


def flats(n_flats: int) -> list[tuple[str, str]]:
    per = n_flats // BUILDINGS
    return [(f"B{b + 1}", f"B{b + 1}-{i + 1:02d}") for b in range(BUILDINGS) for i in range(per)]


# data


def day_arrays(
    rng: np.random.Generator, day_start: datetime, n_series: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One day of 5-minute values per series: times (ns) and T, RH, CO2 (series × 288)."""
    steps = 288
    t = np.arange(steps)
    hour = (day_start.hour + t * 5 / 60) % 24
    season = np.cos(2 * np.pi * (day_start.timetuple().tm_yday - 15) / 365)
    temp = 21.0 + 1.2 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 0.3, (n_series, 1))
    temp = temp + rng.normal(0, 0.15, (n_series, steps))
    rh = 45 - 8 * season + rng.normal(0, 4, (n_series, 1)) + rng.normal(0, 1.5, (n_series, steps))
    occupied = ((hour < 7) | (hour > 17)).astype(float)
    co2 = 480 + 700 * occupied + rng.normal(0, 60, (n_series, steps))
    times = np.array(
        [int((day_start + i * STEP).timestamp()) * 10**9 for i in range(steps)], dtype=np.int64
    )
    return times, np.round(temp, 2), np.round(np.clip(rh, 15, 95), 1), np.round(co2, 0)


def generate(
    store: TimeSeriesStore,
    n_flats: int,
    days: int,
    raw_url: str | None = None,
    hourly_done: Path | None = None,
) -> None:
    """Raw points day by day, hourly rollups from the same arrays, then daily rollups. With
    `raw_url` (an InfluxDB ``/write`` URL) the raw points go as line protocol made straight from
    the arrays (Python's `Point` objects took most of the time on the SQLite run)."""
    rng = np.random.default_rng(10)
    series = [(b, f, room, co2) for b, f in flats(n_flats) for room, co2 in ROOMS]
    start = END - timedelta(days=days)
    started = time.perf_counter()
    resumed = hourly_done is not None and hourly_done.exists()
    for day in range(0 if resumed else days):  # raw and hourly already there: skip
        day_start = start + timedelta(days=day)
        times, temp, rh, co2 = day_arrays(rng, day_start, len(series))
        points: list[Point] = []
        lines: list[str] = []
        rows: dict[str, list[Any]] = {k: [] for k in ("time", "building", "flat", "room")}
        values: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
        for s, (building, flat, room, has_co2) in enumerate(series):
            tags = {"building": building, "flat": flat, "room": room, "sensor": f"{flat}-{room}"}
            t_s, rh_s, co2_s = temp[s].tolist(), rh[s].tolist(), co2[s].tolist()
            if raw_url is not None:  # InfluxDB: line protocol straight from the arrays
                head = f"{CLIMATE},building={building},flat={flat},room={room},sensor={flat}-{room}"
                lines += [
                    f"{head} temperature_c={t!r},humidity_pct={h!r}"
                    + (f",co2_ppm={c!r} {ns}" if has_co2 else f" {ns}")
                    for t, h, c, ns in zip(t_s, rh_s, co2_s, times.tolist(), strict=True)
                ]
            else:
                for i, ns in enumerate(times.tolist()):
                    fields: dict[str, float] = {"temperature_c": t_s[i], "humidity_pct": rh_s[i]}
                    if has_co2:
                        fields["co2_ppm"] = co2_s[i]
                    points.append(Point(CLIMATE, tags, fields, ns))
            rows["time"].append(times)
            for key, value in (("building", building), ("flat", flat), ("room", room)):
                rows[key].append(np.full(len(times), value, dtype=object))
            values["temperature_c"].append(temp[s])
            values["humidity_pct"].append(rh[s])
            values["co2_ppm"].append(co2[s] if has_co2 else np.full(len(times), np.nan))
        if raw_url is not None:
            for i in range(0, len(lines), 5_000):
                body = "\n".join(lines[i : i + 5_000]).encode()
                requests.post(raw_url, data=body, timeout=120).raise_for_status()
        else:
            store.write(points)
        store.write(hourly_points(_hourly_stats(rows, values)))
        if day % 30 == 0:
            rate = (day + 1) * len(series) * len(times) / (time.perf_counter() - started)
            print(f"  day {day + 1}/{days}: {rate:,.0f} points/s", flush=True)
    if hourly_done is not None:
        hourly_done.write_text("ok\n")
    fields = [stat_field(q, s) for q in QUANTITIES for s in (*STATS, "count")]
    first = local_day(start)
    while first <= local_day(END - timedelta(hours=1)):  # 30 local days a query
        chunk_start, chunk_end = local_day_bounds(first, first + timedelta(days=29))
        for b in range(BUILDINGS):
            hourly = store.query(
                HOURLY, chunk_start, chunk_end, where={"building": f"B{b + 1}"}, fields=fields
            )
            store.write(daily_from_hourly(hourly))
        first += timedelta(days=30)


def _hourly_stats(
    rows: dict[str, list[Any]], values: dict[str, list[np.ndarray]]
) -> dict[str, pd.DataFrame]:
    """What the store's hourly downsample by (building, flat, room) returns, per aggregate."""
    frame = pd.DataFrame(
        {
            "time": pd.to_datetime(np.concatenate(rows["time"]), utc=True).floor("h"),
            **{k: np.concatenate(rows[k]) for k in ("building", "flat", "room")},
            **{q: np.concatenate(values[q]) for q in QUANTITIES},
        }
    )
    grouped = frame.groupby(["time", "building", "flat", "room"], sort=True)[list(QUANTITIES)]
    stats = {}
    for aggregate in ("mean", "min", "max", "count"):
        result = grouped.agg(aggregate)
        if aggregate == "count":
            result = result.astype(float).where(result > 0)
        stats[aggregate] = result.reset_index()
    return stats


# the raw baseline: the same answer from every raw point of the range


def raw_series(
    store: TimeSeriesStore, building: str, flat: str, start: datetime, end: datetime, every: str
) -> dict[str, Any]:
    raw = store.query(
        CLIMATE, start, end, where={"building": building, "flat": flat}, fields=list(QUANTITIES)
    )
    raw["time"] = raw["time"].dt.floor(every)
    grouped = raw.groupby(["room", "time"], sort=True)[list(QUANTITIES)]
    parts = []
    for stat in STATS:
        part = grouped.agg(stat)
        part.columns = [stat_field(q, stat) for q in QUANTITIES]
        parts.append(part)
    frame = pd.concat(parts, axis=1).reset_index()
    rooms = []
    for room, rows in frame.groupby("room", sort=True):
        rooms.append(
            {
                "room": room,
                "time_s": [t.value // 10**9 for t in rows["time"]],
                **{
                    k: [None if v != v else round(v, 2) for v in rows[k].tolist()]
                    for k in SERIES_FIELDS
                },
            }
        )
    return {"building": building, "flat": flat, "rooms": rooms}


# timing


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_calls(call: Callable[[str, str], object], targets: list[tuple[str, str]]) -> list[float]:
    times = []
    for building, flat in targets:
        t0 = time.perf_counter()
        call(building, flat)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def service_level(store: TimeSeriesStore, n_flats: int, samples: int, raw_samples: int) -> None:
    rng = random.Random(1)
    all_flats = flats(n_flats)
    views = {"month": timedelta(days=30), "year": timedelta(days=365)}
    floors = {"month": "h", "year": "D"}
    print("\nservice level (ms):")
    for view, span in views.items():
        start = END - span

        def ours(b: str, f: str, start: datetime = start) -> object:
            return climate_series(store, b, f, start, END)

        def baseline(b: str, f: str, start: datetime = start, view: str = view) -> object:
            return raw_series(store, b, f, start, END, floors[view])

        time_calls(ours, all_flats[:3])  # warm the caches
        ours_ms = time_calls(ours, [rng.choice(all_flats) for _ in range(samples)])
        raw_ms = time_calls(baseline, [rng.choice(all_flats) for _ in range(raw_samples)])
        (o50, o95), (r50, r95) = percentiles(ours_ms), percentiles(raw_ms)
        print(
            f"  {view:5}: rollups p50 {o50:7.1f} p95 {o95:7.1f} (n={samples}) | raw p50 "
            f"{r50:8.1f} p95 {r95:8.1f} (n={raw_samples}) | p50 ratio {r50 / o50:5.1f}x"
        )


# HTTP under load from a second process

LOG_ENV = "INDEKLIMA_BENCH_API_LOG"
"""The file the API workers log to (the access log)."""
RAW_ROUTE = "/bench/raw/flats/{flat_id}/climate"
"""The baseline: the app's own login, scope and audit, then the answer from raw points."""


def bench_worker_app() -> Any:
    """One API worker process (uvicorn's factory): the app `indeklima api --workers N` serves
    (`cloud.api_cli.worker_app`, settings from the environment), plus the raw baseline route."""
    import logging

    # the access log (one line per request, as in production) to a file, in every worker
    logging.basicConfig(filename=os.environ[LOG_ENV], level=logging.WARNING, force=True)
    app = worker_app()
    baseline = APIRouter()

    @baseline.get(RAW_ROUTE)
    def raw_route(
        principal: CurrentPrincipal,
        request: Request,
        ref: FlatDep,
        accounts: AccountsDep,
        store: StoreDep,
        start: Moment,
        end: Moment,
    ) -> Response:
        check_flat(accounts, principal, ref, FlatView.DETAIL, request, what="climate series")
        every = "h" if end - start <= timedelta(days=62) else "D"
        body = raw_series(store, ref.building_id, ref.flat_id, start, end, every)
        return Response(orjson.dumps(body), media_type="application/json")

    app.include_router(baseline)
    return app


def serve(port: int, workers: int) -> None:
    """Run in the server process: uvicorn with `workers` processes of `bench_worker_app`."""
    import uvicorn

    prepare(worker_app())  # as `indeklima api --workers N` does: the databases made once
    uvicorn.run(
        "bench_climate:bench_worker_app",  # bench/ is this script's sys.path[0], and the workers'
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        ws="none",
    )


def load_client(url: str, jobs: list[list[str]], seconds: float, threads: int) -> dict[str, Any]:
    """Run in the second process: GET random (path, token) jobs on keep-alive connections."""
    host, port = url.removeprefix("http://").split(":")
    stop = time.perf_counter() + seconds
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads

    def worker(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while time.perf_counter() < stop:
            path, token = rng.choice(jobs)
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                errors[n] += 1
            latencies[n].append((time.perf_counter() - t0) * 1000)
        conn.close()

    began, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    p50, p95 = percentiles(flat)
    cpu_ms = (time.process_time() - cpu) * 1000 / max(len(flat), 1)
    return {"requests": len(flat), "rps": len(flat) / elapsed, "p50": p50, "p95": p95,
            "errors": sum(errors), "cpu_ms": cpu_ms}  # fmt: skip


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of `pid` and its living descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@contextlib.contextmanager
def bench_server(
    folder: Path, store_argv: list[str], n_flats: int, workers: int, threads: int
) -> Iterator[tuple[str, subprocess.Popen[bytes], dict[str, str]]]:
    """The API in its own process(es) with `workers` workers of `threads` threads each
    (``INDEKLIMA_API_THREADS``): the registry of the generated
    flats, an accounts database with one resident per flat, each logged in through the
    accounts service (a real session each). Yields (url, server, token per flat)."""
    from argon2 import PasswordHasher

    from cloud.accounts import Accounts, Role
    from cloud.accounts.db import make_engine, seed_registry, upgrade
    from cloud.accounts.passwords import Passwords
    from cloud.registry import Registry
    from cloud.servers import free_port

    registry_path = folder / "registry.toml"
    registry_path.write_text(
        "".join(
            f'[[buildings]]\nid = "B{b + 1}"\n'
            + "".join(
                f'[[buildings.flats]]\nid = "{f}"\narea_m2 = 60.0\n'
                for bb, f in flats(n_flats)
                if bb == f"B{b + 1}"
            )
            for b in range(BUILDINGS)
        )
    )
    env = {
        **os.environ,
        "INDEKLIMA_API_ACCOUNTS_URL": f"sqlite:///{folder}/accounts.db",
        "INDEKLIMA_API_ALERTS_URL": f"sqlite:///{folder}/alerts.sqlite",
        "INDEKLIMA_API_RUNS_URL": f"sqlite:///{folder}/runs.db",
        "INDEKLIMA_API_WORKER_ARGS": json.dumps(["--registry", str(registry_path), *store_argv]),
        LOG_ENV: str(folder / "api.log"),
        "INDEKLIMA_API_THREADS": str(threads),
    }
    engine = make_engine(env["INDEKLIMA_API_ACCOUNTS_URL"])
    upgrade(engine)
    seed_registry(engine, Registry.load(registry_path))
    # cheap argon2 parameters for making 100 accounts; the logins are real sessions
    accounts = Accounts(engine, passwords=Passwords(PasswordHasher(time_cost=1, memory_cost=64)))
    tokens = {}
    password = "bench password 1"
    for _, f in flats(n_flats):
        accounts.create_user(f"res-{f}", Role.RESIDENT, password)
        # moved in before the data: a resident sees nothing from before moving in
        accounts.add_resident(f"res-{f}", f, since=END - timedelta(days=2 * 366))
        tokens[f], _ = accounts.login(f"res-{f}", password, "bench")
    accounts.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--workers", str(workers)], env=env
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(url + "/api/health", timeout=10).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bench API did not start; see its output above")
            time.sleep(0.2)
        yield url, server, tokens
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def http_level(
    store_argv: list[str],
    n_flats: int,
    seconds: float,
    threads: int,
    workers: int,
    api_threads: int,
) -> None:
    month = f"start={(END - timedelta(days=30)).isoformat()}&end={END.isoformat()}"
    year = f"start={(END - timedelta(days=365)).isoformat()}&end={END.isoformat()}"
    month, year = (q.replace("+", "%2B") for q in (month, year))
    with (
        tempfile.TemporaryDirectory() as folder,
        bench_server(Path(folder), store_argv, n_flats, workers, api_threads) as (
            url,
            server,
            tokens,
        ),
    ):
        ours = [
                [f"/api/flats/{f}/climate?{q}", tokens[f]] for _, f in flats(n_flats)
                for q in (month, year)
            ]  # fmt: skip
        raw = [
                [RAW_ROUTE.format(flat_id=f) + f"?{q}", tokens[f]] for _, f in flats(n_flats)
                for q in (month, year)
            ]  # fmt: skip
        answers = []
        for path, token in (ours[0], ours[1], raw[0]):  # the answers are there and the same
            answer = requests.get(
                url + path, headers={"Authorization": f"Bearer {token}"}, timeout=120
            )
            answer.raise_for_status()
            answers.append(answer.json())
        month_ours, year_ours, month_raw = answers
        for body, least in ((month_ours, 24 * 29), (year_ours, 364)):
            sizes = [len(room["time_s"]) for room in body["rooms"]]
            if len(sizes) != len(ROOMS) or min(sizes) < least:
                raise SystemExit(f"the chart answer is not the whole range: {sizes} points")
        hours = {r["room"]: r["time_s"] for r in month_ours["rooms"]}
        if hours != {r["room"]: r["time_s"] for r in month_raw["rooms"]}:
            raise SystemExit("the rollup and raw answers cover different hours")
        print(
            f"\nHTTP GET /api/flats/{{id}}/climate as the flat's resident ({n_flats} residents, "
            f"a session each), uvicorn with {workers} worker process(es) of {api_threads} "
            f"thread(s), {threads} client threads with keep-alive connections in a second "
            f"process, month and year views mixed, {seconds:.0f} s each:"
        )
        _run_client(url, ours[:4], 2.0, threads)  # warm each worker's caches
        for name, jobs in (("rollups", ours), ("raw baseline", raw)):
            cpu = tree_cpu_s(server.pid)
            result = _run_client(url, jobs, seconds, threads)
            cpu_ms = (tree_cpu_s(server.pid) - cpu) * 1000 / max(result["requests"], 1)
            print(
                f"  {name:12}: {result['rps']:7.1f} requests/s, p50 {result['p50']:7.1f} ms, "
                f"p95 {result['p95']:7.1f} ms, {result['requests']} requests, "
                f"{result['errors']} errors; server CPU {cpu_ms:.1f} ms/request "
                f"(client {result['cpu_ms']:.1f})",
                flush=True,
            )


def _run_client(url: str, jobs: list[list[str]], seconds: float, threads: int) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(jobs, f)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--client", url, "--paths", f.name,
             "--seconds", str(seconds), "--threads", str(threads)],
            check=True, capture_output=True, text=True, env={**os.environ},
        )  # fmt: skip
    finally:
        os.unlink(f.name)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def job_step(store: TimeSeriesStore, n_flats: int, run: int) -> None:
    """The rollup step of an hourly jobs run for one building: nothing new, then one new hour
    of readings (the `run`-th hour after the generated year, so each run adds a new one)."""
    now = END + run * timedelta(hours=1)
    t0 = time.perf_counter()
    idle = refresh_rollups(store, "B1", now - timedelta(days=7), now)
    idle_s = time.perf_counter() - t0
    assert idle.hours == 0, f"bench rollups disagree with the job's in {idle.hours} hours"
    rng = np.random.default_rng(2)
    series = [(b, f, room, co2) for b, f in flats(n_flats) if b == "B1" for room, co2 in ROOMS]
    times, temp, rh, co2 = day_arrays(rng, now, len(series))
    points = [
        Point(
            CLIMATE,
            {"building": b, "flat": f, "room": room, "sensor": f"{f}-{room}"},
            {"temperature_c": float(temp[s, i]), "humidity_pct": float(rh[s, i]),
             **({"co2_ppm": float(co2[s, i])} if has_co2 else {})},
            int(times[i]),
        )
        for s, (b, f, room, has_co2) in enumerate(series)
        for i in range(12)
    ]  # fmt: skip
    store.write(points)
    t0 = time.perf_counter()
    later = now + timedelta(hours=1)
    new = refresh_rollups(store, "B1", later - timedelta(days=7), later)
    new_s = time.perf_counter() - t0
    print(
        f"\njob rollup step, building of {n_flats // BUILDINGS} flats, 7-day recheck: nothing new "
        f"{idle_s:.2f} s; "
        f"one new hour {new_s:.2f} s ({new.hourly_points} hourly, {new.daily_points} daily points)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench-data"))
    parser.add_argument("--flats", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--raw-samples", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--store", choices=["sqlite", "influx"], default="sqlite")
    parser.add_argument("--generate-only", action="store_true", help="make the data, then stop")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[2],
        help="API worker processes for the HTTP part; several numbers: one run each",
    )
    parser.add_argument(
        "--api-threads",
        type=int,
        default=1,
        help="threads per API worker (INDEKLIMA_API_THREADS; default 1: see ApiSettings.threads)",
    )
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        jobs = json.loads(args.paths.read_text())
        print(json.dumps(load_client(args.client, jobs, args.seconds, args.threads)))
        return
    if args.serve:
        serve(args.serve, args.workers[0])
        return
    args.data.mkdir(parents=True, exist_ok=True)
    name = f"climate-{args.flats}-{args.days}"
    with contextlib.ExitStack() as stack:
        store: TimeSeriesStore
        if args.store == "sqlite":
            path = args.data / f"{name}.sqlite"
            store = stack.enter_context(SqliteStore(path))
        else:
            from cloud.servers import InfluxServer

            path = args.data / f"{name}-influx"
            server = stack.enter_context(InfluxServer(path))
            store = stack.enter_context(
                InfluxStore(server.url, "bench", gzip=False, timeout_s=300)  # raw year: slow
            )
        done = path.with_suffix(".done")
        if not done.exists():
            print(f"generating {args.flats} flats × {args.days} days into {path} …", flush=True)
            t0 = time.perf_counter()
            raw_url = (
                f"{store.url}/write?db={store.database}&precision=ns"
                if isinstance(store, InfluxStore)
                else None
            )
            generate(store, args.flats, args.days, raw_url, path.with_suffix(".hourly-done"))
            done.write_text("ok\n")
            print(f"  took {time.perf_counter() - t0:.0f} s", flush=True)
        if args.generate_only:
            return
        counts = (
            f"; hourly {store.count(HOURLY):,}; daily {store.count(DAILY):,}"
            if args.store == "sqlite"  # InfluxDB counts by streaming every row: slow
            else ""
        )
        raw = args.flats * args.days * 288 * len(ROOMS)
        print(f"store: {store!r}, raw points {raw:,}{counts}")
        service_level(store, args.flats, args.samples, args.raw_samples)
        if isinstance(store, InfluxStore):
            store_argv = ["--influx-url", store.url, "--influx-db", store.database]
        else:
            store_argv = ["--sqlite", str(path)]
        for workers in args.workers:
            http_level(
                store_argv, args.flats, args.seconds, args.threads, workers, args.api_threads
            )
        runs = path.with_suffix(".runs")
        run = int(runs.read_text()) if runs.exists() else 0
        runs.write_text(f"{run + 1}\n")
        job_step(store, args.flats, run)


if __name__ == "__main__":
    main()
