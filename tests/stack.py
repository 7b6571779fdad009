"""A whole delivery path on real parts for fault tests: Mosquitto, ingest processes, a gateway
process (tests/feeder.py) and InfluxDB or SQLite — each a real process that can be killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cloud.servers import InfluxServer, MosquittoServer
from cloud.store.base import CLIMATE, TimeSeriesStore

ROOT = Path(__file__).resolve().parents[1]
SENSORS = 10


def write_registry(path: Path) -> Path:
    flats = [{"id": f"F{n}", "area_m2": 60.0} for n in range(SENSORS)]
    path.write_text(
        json.dumps(
            {
                "buildings": [{"id": "B1", "flats": flats}],
                "gateways": [{"id": "gw-1", "building": "B1", "flats": [f["id"] for f in flats]}],
            }
        )
    )
    return path


def write_gateway_config(path: Path, mqtt_url: str, outbox: Path, **outbox_opts: object) -> Path:
    lines = [
        'gateway_id = "gw-1"',
        "status_interval_s = 1.0",
        "[mqtt]",
        f'url = "{mqtt_url}"',
        "reconnect_min_s = 0.2",
        "reconnect_max_s = 2.0",
        "[outbox]",
        f'path = "{outbox}"',
        "batch_max_readings = 200",
        "batch_max_age_s = 0.2",
        "resend_after_s = 5.0",
    ]
    lines += [f"{k} = {v!r}" for k, v in outbox_opts.items()]
    for n in range(SENSORS):
        lines += [
            "[[sensors]]",
            f'id = "s{n}"',
            'kind = "ruuvi"',
            'building = "B1"',
            f'flat = "F{n}"',
            'room = "living"',
            f'address = "AA:BB:CC:DD:00:{n:02X}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Stack:
    folder: Path
    broker: MosquittoServer
    influx: InfluxServer | None = None
    database: str = "faults"
    ingests: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    feeder: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.registry = write_registry(self.folder / "registry.json")
        self.gateway_config = write_gateway_config(
            self.folder / "gateway.toml", self.broker.url, self.folder / "outbox.sqlite"
        )

    def store_args(self) -> list[str]:
        if self.influx is not None:
            return ["--influx-url", self.influx.url, "--influx-db", self.database]
        return ["--sqlite", str(self.folder / "store.sqlite")]

    def open_store(self) -> TimeSeriesStore:
        if self.influx is not None:
            from cloud.store.influx import InfluxStore

            return InfluxStore(self.influx.url, self.database)
        from cloud.store.sqlite import SqliteStore

        return SqliteStore(self.folder / "store.sqlite")

    def start_ingest(self, client_id: str = "ingest-1", *extra: str) -> None:
        with (self.folder / f"{client_id}.log").open("ab") as log:
            self.ingests[client_id] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cloud.cli",
                    "-v",
                    "ingest",
                    "--mqtt-url",
                    self.broker.url,
                    "--client-id",
                    client_id,
                    "--registry",
                    str(self.registry),
                    "--dead-letters",
                    str(self.folder / "dead.sqlite"),
                    *self.store_args(),
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=ROOT,
            )

    def wait_ingest_connected(self, client_id: str = "ingest-1", timeout_s: float = 30) -> None:
        """Until the ingest has subscribed: before that the broker has no one to queue for
        (the gateway's re-send would still deliver, but only after its timeout)."""
        log = self.folder / f"{client_id}.log"
        wait_until(
            lambda: log.exists() and f"MQTT {client_id} connected" in log.read_text(),
            timeout_s,
            f"{client_id} to connect",
        )
        time.sleep(0.2)  # the SUBSCRIBE follows the CONNACK

    def stop_ingest(self, client_id: str = "ingest-1", *, kill: bool = False) -> None:
        proc = self.ingests.pop(client_id)
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        proc.wait(30)

    def start_feeder(self, total: int, rate: float) -> None:
        with (self.folder / "feeder.log").open("ab") as log:
            self.feeder = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.feeder",
                    "--config",
                    str(self.gateway_config),
                    "--total",
                    str(total),
                    "--rate",
                    str(rate),
                    "--drain-timeout",
                    "240",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                env=_env(),
                cwd=ROOT,
            )

    def kill_feeder(self) -> None:
        assert self.feeder is not None
        self.feeder.send_signal(signal.SIGKILL)
        self.feeder.communicate(timeout=10)
        self.feeder = None

    def wait_feeder(self, timeout_s: float = 300) -> dict[str, object]:
        assert self.feeder is not None
        out, _ = self.feeder.communicate(timeout=timeout_s)
        code = self.feeder.returncode
        self.feeder = None
        assert code == 0, f"gateway did not drain: {out!r}\n{self.logs()}"
        result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
        return result

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.folder.glob("*.log"))
        )

    def stored_times(self) -> dict[str, list[int]]:
        """Stored reading times (ms) per sensor."""
        from datetime import UTC, datetime

        store = self.open_store()
        try:
            frame = store.query(
                CLIMATE, datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            )
        finally:
            store.close()
        out: dict[str, list[int]] = {}
        for sensor, group in frame.groupby("sensor"):
            out[str(sensor)] = sorted(int(t.value // 1_000_000) for t in group["time"])
        return out

    def close(self) -> None:
        if self.feeder is not None:
            self.kill_feeder()
        for client_id in list(self.ingests):
            self.stop_ingest(client_id)


def expected_times(total: int) -> dict[str, list[int]]:
    from tests.feeder import sample

    out: dict[str, list[int]] = {}
    for i in range(total):
        s = sample(i, SENSORS)
        assert s.time is not None
        out.setdefault(f"s{i % SENSORS}", []).append(int(s.time.timestamp() * 1000))
    return out


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def installed_command(name: str = "indeklima") -> str:
    """The console script installed beside this interpreter (the project's venv), else on PATH.

    Tests run as ``.venv/bin/python -m pytest`` without the venv's ``bin`` on PATH, so the
    command is looked up next to `sys.executable` first."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed: run `make setup`")
    return found
