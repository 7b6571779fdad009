"""Logins (argon2id) and a scoped ``GET /api/flats/{id}/monthly`` under concurrent load, beside
an unauthenticated baseline (``GET /api/health``), in the same run.

    python bench/bench_api_auth.py [--threads 8] [--seconds 10] [--rooms 3]

The API (uvicorn in a thread, as ``indeklima api`` runs it) serves a SQLite store holding one
month of 5-minute readings for a flat of `--rooms` rooms and an accounts database with a
resident and a technician; passwords are hashed with argon2-cffi's defaults (argon2id, RFC 9106
low-memory profile: t=3, m=64 MiB, p=4). The load comes from a second process: `--threads`
threads with keep-alive sessions, each sending requests back to back for `--seconds`. Prints
requests/s, median and p95 latency per endpoint and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PASSWORD = "a benchmark password"
MONTH = datetime(2026, 1, 1, tzinfo=UTC)


# -- the load (second process) ----------------------------------------------------------------


def load(url: str, mode: str, threads: int, seconds: float, token: str) -> dict[str, Any]:
    import requests

    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}"} if mode == "monthly" else {}
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop:
            began = time.perf_counter()
            if mode == "login":
                response = session.post(
                    url + "/api/token", data={"username": "resident", "password": PASSWORD}
                )
            elif mode == "monthly":
                response = session.get(
                    url + "/api/flats/F-01/monthly?month=2026-01", headers=headers
                )
            else:
                response = session.get(url + "/api/health")
            mine.append(time.perf_counter() - began)
            failed += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += failed

    began = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.monotonic() - began
    latencies.sort()
    return {
        "mode": mode,
        "requests": len(latencies),
        "errors": errors,
        "per_s": len(latencies) / wall,
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
    }


# -- the server (this process) ----------------------------------------------------------------


def serve(folder: Path, rooms: int) -> tuple[Any, Any, Any]:
    from cloud.accounts import Accounts, Role
    from cloud.accounts.db import make_engine, seed_registry, upgrade
    from cloud.api import ApiServer, ApiSettings, create_app
    from cloud.registry import Registry
    from cloud.servers import free_port
    from cloud.store.base import CLIMATE, Point
    from cloud.store.sqlite import SqliteStore

    registry = Registry.model_validate(
        {"buildings": [{"id": "B", "flats": [{"id": "F-01", "area_m2": 70.0}]}]}
    )
    store = SqliteStore(folder / "store.db")
    points = []
    for step in range(31 * 24 * 12):
        ns = int((MONTH + timedelta(minutes=5 * step)).timestamp()) * 10**9
        for room in range(rooms):
            tags = {"building": "B", "flat": "F-01", "room": f"r{room}", "sensor": f"s{room}"}
            fields = {
                "temperature_c": 20.0 + (step % 50) / 10,
                "humidity_pct": 40.0 + step % 20,
                "co2_ppm": 500.0 + step % 700,
            }
            points.append(Point(CLIMATE, tags, fields, ns))
    store.write(points)
    url = f"sqlite:///{folder / 'accounts.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_registry(engine, registry)
    accounts = Accounts(engine)
    accounts.create_user("resident", Role.RESIDENT, PASSWORD)
    accounts.add_resident("resident", "F-01")
    settings = ApiSettings(
        accounts_url=url,
        alerts_url=f"sqlite:///{folder / 'alerts.db'}",
        runs_url=f"sqlite:///{folder / 'runs.db'}",
    )
    server = ApiServer(create_app(settings, store, registry, accounts=accounts), port=free_port())
    server.start()
    return server, store, accounts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rooms", type=int, default=3)
    parser.add_argument("--client", nargs=2, metavar=("URL", "MODE"), help=argparse.SUPPRESS)
    parser.add_argument("--token", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, mode = args.client
        print(json.dumps(load(url, mode, args.threads, args.seconds, args.token)))
        return

    import logging

    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        server, store, accounts = serve(Path(tmp), args.rooms)
        try:
            token, _ = accounts.login("resident", PASSWORD, "bench")
            results = {}
            for mode in ("health", "login", "monthly", "health"):
                command = [sys.executable, __file__, "--client", server.url, mode]
                command += ["--threads", str(args.threads), "--seconds", str(args.seconds)]
                command += ["--token", token]
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                result = json.loads(out.stdout)
                key = mode if mode not in results else f"{mode} (again)"
                results[key] = result
        finally:
            server.close()
            store.close()
            accounts.close()
    baseline = statistics.median([results["health"]["per_s"], results["health (again)"]["per_s"]])
    print(
        f"{datetime.now(UTC):%Y-%m-%d} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} cores · {args.threads} client threads in a second process · "
        f"{args.seconds:.0f} s each · month of 5-min data, {args.rooms} rooms"
    )
    for name, r in results.items():
        print(
            f"{name:15} {r['per_s']:9.1f} req/s  median {r['median_ms']:7.1f} ms  "
            f"p95 {r['p95_ms']:7.1f} ms  ({r['requests']} requests, {r['errors']} errors)  "
            f"× baseline {r['per_s'] / baseline:.3f}"
        )


if __name__ == "__main__":
    main()
