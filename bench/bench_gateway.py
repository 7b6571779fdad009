"""Gateway footprint: resident memory and CPU with 100 BLE + 10 serial sensors (issues 2 and 3).

Targets: resident memory ≤ 60 MB with 100 sensors; CPU at 1 reading/min per sensor well under
2 % of one core. Run: ``python bench/bench_gateway.py [--repeats 3] [--window-s 30]
[--real-s 120]`` (about 8 minutes with the defaults; ``--quick`` for a one-minute smoke run;
``--tracemalloc`` for only the gateway's Python heap by package).

Processes. The gateway is a child process running the real `edge.runner.run_gateway` with the
injected bleak backend and 10 serial pollers (``python bench/bench_gateway.py --child gateway``).
This process runs Mosquitto, ingest (SQLite store) — so the outbox drains on end-to-end acks —
the serial emulators (SCD30/S8 Modbus and MH-Z19B responders on real ptys) and the BLE
emulators, which encode each advert with `firmware_sim` (Ruuvi DF5, Aranet4, BTHome v2, pvvx).

The feeder. The injected adapter is in-process, so an advert must enter the gateway process:
the parent writes one line per advert to the child's stdin and a thread in the child calls
``InjectedAdapter.push``, i.e. builds bleak's ``AdvertisementData`` and hops onto the event loop
— the work bleak's BlueZ backend does per D-Bus signal on a Pi. Reading and parsing that line is
the bench's own cost, so it is measured alone (``feeder``: same thread, same rate, no scanner
attached) and subtracted; both figures are printed.

Measured per repeat (medians of ``--repeats``): ``bare`` (``python`` doing nothing), ``imports``
(a process importing only the third-party libraries the gateway run had loaded), ``idle`` (the
gateway with no sensors), ``feeder`` (see above) and ``fast`` (all 110 sensors at 1 reading/s
each: RSS after startup, steady and peak (VmHWM), CPU and CPU per reading); then once ``real``:
1 reading/min per sensor for ``--real-s`` seconds. CPU at 1 reading/min is extrapolated as
idle + per-reading cost × 110/60 s⁻¹ and shown beside the real-rate measurement. A per-import
RSS table shows what the memory is spent on.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child imports only what the gateway needs; the parent the rest
    import random

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = "bench0"
BLE_MIX = (("ruuvi", 70), ("aranet4", 10), ("bthome", 10), ("xiaomi_atc", 10))
NO_BTHOME_MIX = (("ruuvi", 80), ("aranet4", 10), ("xiaomi_atc", 10))
"""A gateway without BTHome sensors does not load bthome-ble's stack: shown once, beside."""
SERIAL_MIX = (("scd30", 4), ("senseair_s8", 3), ("mhz19b", 3))
SENSORS = sum(n for _, n in BLE_MIX + SERIAL_MIX)
TARGET_MB = 60.0
_BASELINE = (
    "import json, sys{imports}\n"
    "rss = float(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) / 1024\n"
    "print(json.dumps({{'event': 'ready', 'rss_mb': rss}}), flush=True)\n"
    "sys.stdin.buffer.read()\n"
    "print(json.dumps({{'event': 'done'}}), flush=True)\n"
)
IMPORT_STEPS = (
    "msgspec", "edge.wire", "edge.config", "paho.mqtt.client", "edge.gateway", "serial",
    "pymodbus", "edge.sensors.serial.poller", "bleak", "edge.sensors.ble.source",
    "edge.sensors.ble.injected", "edge.runner", "edge.sensors.ble.atc", "edge.sensors.ble.ruuvi",
    "edge.sensors.ble.aranet", "edge.sensors.ble.bthome",
)  # fmt: skip


# == child side: at module level only stdlib that the gateway loads anyway ==================


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _say(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _feed(push: Callable[..., int], lines: IO[bytes], done: Callable[[], None]) -> None:
    """Parent's advert lines → ``push``: ``ADDR RSSI M0499=hex S<uuid>=hex``; EOF ends it."""
    for raw in iter(lines.readline, b""):
        address, rssi, *sections = raw.split()
        mfr: dict[int, bytes] = {}
        svc: dict[str, bytes] = {}
        for section in sections:
            key, _, data = section.partition(b"=")
            if key[:1] == b"M":
                mfr[int(key[1:], 16)] = bytes.fromhex(data.decode())
            else:
                svc[key[1:].decode()] = bytes.fromhex(data.decode())
        push(address.decode(), int(rssi), mfr, svc, None)
    done()


def _third_party_modules() -> list[str]:
    tops = {name.partition(".")[0] for name in sys.modules}
    skip = {"edge", "__main__", "__mp_main__", "this", "antigravity"}
    return sorted(t for t in tops if t not in skip and not t.startswith("_"))


async def _child_gateway(config_json: str) -> None:
    from edge.config import GatewayConfig
    from edge.runner import run_gateway
    from edge.sensors.ble.injected import REGISTRY, InjectedScanner

    config = GatewayConfig.parse(json.loads(config_json))
    adapter = REGISTRY.get(ADAPTER)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(
        run_gateway(config, stop, ble_backend=InjectedScanner, ble_adapter=ADAPTER)
    )
    for _ in range(600):  # until the scanner is attached (≤ 30 s); 1 s without BLE sensors
        if adapter.running or task.done() or (_ > 20 and not config.sensors):
            break
        await asyncio.sleep(0.05)
    _say({"event": "ready", "rss_mb": _rss_mb()})
    feeder = threading.Thread(
        target=_feed,
        args=(adapter.push, sys.stdin.buffer, lambda: loop.call_soon_threadsafe(stop.set)),
        name="bench-feeder",
    )
    feeder.start()
    gateway = await task
    feeder.join()
    _say({"event": "done", "samples": gateway.samples_seen, "modules": _third_party_modules(),
          "traced": _traced_by_package()})  # fmt: skip


def _traced_by_package() -> list[tuple[str, float]]:
    """Python heap by package (tracemalloc, when on): where the non-import memory goes."""
    import tracemalloc

    if not tracemalloc.is_tracing():
        return []
    sizes: dict[str, int] = {}
    for stat in tracemalloc.take_snapshot().statistics("filename"):
        path = stat.traceback[0].filename
        if "site-packages/" in path:
            key = path.split("site-packages/")[1].split("/")[0]
        elif f"{os.sep}edge{os.sep}" in path:
            key = "edge/" + path.split(f"{os.sep}edge{os.sep}")[1]
        else:
            key = "stdlib " + Path(path).name
        sizes[key] = sizes.get(key, 0) + stat.size
    top = sorted(sizes.items(), key=lambda kv: -kv[1])
    return [(k, v / 2**20) for k, v in top[:15]] + [("(total)", sum(sizes.values()) / 2**20)]


def child_main(args: argparse.Namespace) -> int:
    if args.child == "gateway":
        if args.tracemalloc:
            import tracemalloc

            tracemalloc.start()
        asyncio.run(_child_gateway(args.config.read_text(encoding="utf-8")))
        return 0
    if args.child == "importcost":
        rows = [("(bench child start)", 0.0, _rss_mb(), len(sys.modules))]
        for name in IMPORT_STEPS:
            before, n = _rss_mb(), len(sys.modules)
            importlib.import_module(name)
            rows.append((name, _rss_mb() - before, _rss_mb(), len(sys.modules) - n))
        _say({"event": "ready", "rows": rows})
        sys.stdin.buffer.read()
        _say({"event": "done"})
        return 0
    # "feeder": the bench's own cost — the same thread and pushes, no scanner attached
    from edge.sensors.ble.injected import REGISTRY

    _say({"event": "ready", "rss_mb": _rss_mb()})
    thread = threading.Thread(
        target=_feed, args=(REGISTRY.get(ADAPTER).push, sys.stdin.buffer, lambda: None)
    )
    thread.start()
    thread.join()
    _say({"event": "done"})
    return 0


# == parent side ===============================================================================


@dataclass
class Device:
    sensor_id: str
    kind: str
    flat: str
    mac: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    counter: int = 0

    def current(self) -> dict[str, float]:
        """What the serial emulators answer a poll with (their ``values_fn``)."""
        return self.values

    def step(self, rng: random.Random) -> None:
        """A slow random walk around an indoor climate, so plausibility checks see real data."""
        v = self.values
        if not v:
            v.update(temperature_c=21.0 + rng.uniform(-1, 1), humidity_pct=45.0,
                     co2_ppm=700.0, pressure_hpa=1012.0, battery_mv=2950.0)  # fmt: skip
        v["temperature_c"] = min(26.0, max(17.0, v["temperature_c"] + rng.gauss(0, 0.05)))
        v["humidity_pct"] = min(70.0, max(30.0, v["humidity_pct"] + rng.gauss(0, 0.2)))
        v["co2_ppm"] = min(2500.0, max(420.0, v["co2_ppm"] + rng.gauss(0, 15)))
        v["pressure_hpa"] += rng.gauss(0, 0.05)
        self.counter += 1


def make_devices(ble_mix: tuple[tuple[str, int], ...] = BLE_MIX) -> list[Device]:
    devices: list[Device] = []
    for kind, count in ble_mix + SERIAL_MIX:
        for _ in range(count):
            n = len(devices)
            mac = f"C4:7C:8D:6A:{n >> 8:02X}:{n & 0xFF:02X}" if n < 100 else None
            devices.append(Device(f"s{n:03d}", kind, f"F{n // 2:02d}", mac))
    import random

    rng = random.Random(1)
    for device in devices:
        device.step(rng)
    return devices


def advert_line(device: Device) -> bytes:
    from firmware_sim.devices.fleet import encode_advert
    from firmware_sim.scenario import SensorKind

    assert device.mac is not None
    mfr, svc = encode_advert(SensorKind(device.kind), device.values, device.mac, device.counter)
    parts = [device.mac, "-65"]
    parts += [f"M{cid:04x}={data.hex()}" for cid, data in mfr.items()]
    parts += [f"S{uuid}={data.hex()}" for uuid, data in svc.items()]
    return (" ".join(parts) + "\n").encode()


@contextmanager
def serial_responders(devices: list[Device]) -> Iterator[dict[str, str]]:
    """One pty per serial sensor, served in this process; yields sensor id → port."""
    from firmware_sim.devices.serial_pty import PtyResponder
    from firmware_sim.devices.serial_responders import (
        Mhz19bResponder,
        ModbusResponder,
        Scd30Emulator,
        SenseairS8Emulator,
    )

    responders: list[tuple[Device, PtyResponder]] = []
    try:
        for d in devices:
            if d.kind == "scd30":
                responders.append((d, ModbusResponder([Scd30Emulator(d.current)])))
            elif d.kind == "senseair_s8":
                responders.append((d, ModbusResponder([SenseairS8Emulator(d.current, 0xFE)])))
            elif d.kind == "mhz19b":
                responders.append((d, Mhz19bResponder(d.current)))
        yield {d.sensor_id: r.port for d, r in responders}
    finally:
        for _, r in responders:
            r.close()


def gateway_config(gateway_id: str, broker_url: str, folder: Path, devices: list[Device],
                   ports: dict[str, str], interval_s: float) -> Path:  # fmt: skip
    sensors = []
    for d in devices:
        entry: dict[str, Any] = {"id": d.sensor_id, "kind": d.kind, "building": "B1",
                                 "flat": d.flat, "room": "stue", "expected_interval_s": interval_s,
                                 "poll_interval_s": interval_s}  # fmt: skip
        if d.mac is not None:
            entry["address"] = d.mac
        else:
            entry["port"] = ports[d.sensor_id]
        sensors.append(entry)
    outbox = {"path": str(folder / f"{gateway_id}.sqlite")}
    config = {"gateway_id": gateway_id, "mqtt": {"url": broker_url}, "outbox": outbox,
              "sensors": sensors}  # fmt: skip
    path = folder / f"{gateway_id}.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


class Child:
    """A bench child process with its stdin as the advert pipe; RSS sampled in a thread.
    ``CHILD_PYTHON`` runs it: this interpreter, or an edge-only install's (``--gateway-python``;
    then the installed package runs, not this tree)."""

    python = sys.executable

    def __init__(self, mode: str, *extra: str) -> None:
        import subprocess

        import psutil

        if Child.python == sys.executable:
            path = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
            env = dict(os.environ, PYTHONPATH=path)
        else:  # only the bench script itself from this tree; edge from the install
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if mode in ("bare", "imports"):  # a bare interpreter: not even this module's imports
            cmd = [Child.python, "-c", _BASELINE.format(imports="".join(f", {m}" for m in extra))]
        else:
            cmd = [Child.python, str(Path(__file__).resolve()), "--child", mode, *extra]
        cwd = ROOT if Child.python == sys.executable else Path(__file__).resolve().parent
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     cwd=cwd)  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.ps = psutil.Process(self.proc.pid)
        self.ready = self._event("ready")
        self.rss: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler")
        self._sampler.start()

    def _event(self, name: str) -> dict[str, Any]:
        line = self.stdout.readline()
        if not line:
            raise RuntimeError(f"bench child exited before '{name}' (rc {self.proc.wait()})")
        event: dict[str, Any] = json.loads(line)
        assert event["event"] == name, event
        return event

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.rss.append((time.monotonic(), self.ps.memory_info().rss / 2**20))
            except Exception:  # the process ended
                return

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def peak_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def rss_now(self) -> float:
        return float(self.ps.memory_info().rss / 2**20)

    def finish(self) -> dict[str, Any]:
        self.stdin.close()
        done = self._event("done")
        self.proc.wait(60)
        self._stop.set()
        self._sampler.join()
        return done


class Feeder:
    """The devices of one run: BLE adverts to the child at ``interval_s``, serial truth stepped."""

    def __init__(self, devices: list[Device], sink: IO[bytes] | None, interval_s: float) -> None:
        self.devices, self.sink, self.interval_s = devices, sink, interval_s
        self.adverts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-feeder")
        self._thread.start()

    def _run(self) -> None:
        import heapq
        import random

        rng = random.Random(2)
        t0 = time.monotonic()  # devices spread evenly over one interval, as real ones drift
        heap = [(t0 + i * self.interval_s / len(self.devices), i) for i in range(len(self.devices))]
        heapq.heapify(heap)
        while heap and not self._stop.is_set():
            due, i = heapq.heappop(heap)
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            device = self.devices[i]
            device.step(rng)
            if device.mac is not None and self.sink is not None:
                self.sink.write(advert_line(device))
                self.sink.flush()
                self.adverts += 1
            heapq.heappush(heap, (due + self.interval_s, i))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Figures:
    rss_ready: float = float("nan")
    rss_steady: float = float("nan")
    rss_peak: float = float("nan")
    cpu_pct: float = float("nan")
    readings: int = 0
    adverts: int = 0
    window_s: float = 0.0
    samples: int = 0
    modules: list[str] = field(default_factory=list)
    traced: list[tuple[str, float]] = field(default_factory=list)


class Bench:
    """Mosquitto + ingest (SQLite store) in this process; one gateway id per child run."""

    def __init__(self, folder: Path, broker_url: str, ingest: Any) -> None:
        self.folder, self.broker_url, self.ingest = folder, broker_url, ingest
        self.devices = make_devices()
        self.runs = 0

    def measure(self, child: Child, feeder: Feeder | None, warmup_s: float, window_s: float,
                ) -> Figures:  # fmt: skip
        import statistics

        time.sleep(warmup_s)
        stats = self.ingest.stats
        t0, c0, r0 = time.monotonic(), child.cpu_s(), stats.readings_stored
        a0 = feeder.adverts if feeder else 0
        time.sleep(window_s)
        t1, c1, r1 = time.monotonic(), child.cpu_s(), stats.readings_stored
        late = [rss for t, rss in child.rss if t >= (t0 + t1) / 2]
        return Figures(
            rss_ready=child.ready["rss_mb"],
            rss_steady=statistics.median(late) if late else child.rss_now(),
            rss_peak=child.peak_mb(),
            cpu_pct=100 * (c1 - c0) / (t1 - t0),
            readings=r1 - r0,
            adverts=(feeder.adverts if feeder else 0) - a0,
            window_s=t1 - t0,
        )

    def gateway(self, devices: list[Device], interval_s: float, warmup_s: float,
                window_s: float, *extra: str) -> Figures:  # fmt: skip
        self.runs += 1
        with serial_responders(devices) as ports:
            config = gateway_config(f"gw-{self.runs:02d}", self.broker_url, self.folder, devices,
                                    ports, interval_s)  # fmt: skip
            child = Child("gateway", "--config", str(config), *extra)
            feeder = Feeder(devices, child.stdin, interval_s)
            try:
                figures = self.measure(child, feeder, warmup_s, window_s)
            finally:
                feeder.stop()
            time.sleep(3.0)  # last batches acked before the gateway stops
            done = child.finish()
        figures.samples, figures.modules = done["samples"], done["modules"]
        figures.traced = done["traced"]
        return figures

    def simple(self, mode: str, window_s: float, *extra: str, feed: bool = False) -> Figures:
        child = Child(mode, *extra)
        ble = [d for d in self.devices if d.mac is not None]
        feeder = Feeder(ble, child.stdin, 1.0) if feed else None
        try:
            figures = self.measure(child, feeder, 1.0, window_s)
        finally:
            if feeder:
                feeder.stop()
        child.finish()
        return figures


def registry(runs: int) -> Any:
    from cloud.registry import Registry

    flats = sorted({d.flat for d in make_devices()})
    return Registry.model_validate({
        "buildings": [{"id": "B1", "flats": [{"id": f, "area_m2": 60.0} for f in flats]}],
        "gateways": [{"id": f"gw-{n:02d}", "building": "B1", "flats": flats}
                     for n in range(1, runs + 1)],
    })  # fmt: skip


def import_cost() -> list[tuple[str, float, float, int]]:
    child = Child("importcost")
    rows: list[tuple[str, float, float, int]] = child.ready["rows"]
    child.stdin.close()
    child.proc.wait(30)
    return rows


def med(runs: list[Figures], attr: str) -> float:
    import statistics

    return statistics.median(float(getattr(r, attr)) for r in runs)


def main(args: argparse.Namespace) -> int:
    import tempfile

    if args.gateway_python is not None:
        Child.python = str(args.gateway_python.absolute())
        print(f"gateway children run with {Child.python}")

    from cloud.deadletter import DeadLetters
    from cloud.ingest import Ingest
    from cloud.servers import MosquittoServer
    from cloud.store.sqlite import SqliteStore

    window, real_s, repeats = args.window_s, args.real_s, args.repeats
    print("RSS by import (one process, cumulative):")
    for name, delta, total, modules in import_cost():
        print(f"  {name:32s} {delta:+6.1f} MB  = {total:5.1f} MB  (+{modules} modules)")
    runs: dict[str, list[Figures]] = {k: [] for k in ("bare", "imports", "idle", "feeder", "fast")}
    with tempfile.TemporaryDirectory() as tmp, MosquittoServer(Path(tmp) / "mq") as broker, \
            SqliteStore(Path(tmp) / "store.sqlite") as store, \
            DeadLetters(Path(tmp) / "dead.sqlite") as dead:  # fmt: skip
        ingest = Ingest(store, registry(2 * repeats + 2), dead, mqtt_url=broker.url,
                        client_id="bench-ingest")  # fmt: skip
        with ingest:
            bench = Bench(Path(tmp), broker.url, ingest)
            if args.tracemalloc:
                traced = bench.gateway(bench.devices, 1.0, 5.0, window / 2, "--tracemalloc")
                print(
                    f"Python heap by allocating package after {window / 2:.0f} s at 1 reading/s"
                    f"/sensor (RSS {traced.rss_steady:.1f} MB, tracemalloc's overhead included):"
                )
                for name, mb in traced.traced:
                    print(f"  {name:40s} {mb:6.2f} MB")
                return 0
            for r in range(repeats):
                fast = bench.gateway(bench.devices, 1.0, 5.0, window)
                runs["fast"].append(fast)
                runs["imports"].append(bench.simple("imports", 2.0, *fast.modules))
                runs["bare"].append(bench.simple("bare", 2.0))
                runs["idle"].append(bench.gateway([], 60.0, 1.0, window / 2))
                runs["feeder"].append(bench.simple("feeder", window / 2, feed=True))
                print(
                    f"round {r + 1}: fast RSS {fast.rss_steady:.1f} MB, CPU {fast.cpu_pct:.1f} %,"
                    f" {fast.readings} readings stored / {fast.window_s:.0f} s",
                    file=sys.stderr,
                )
            real = bench.gateway(bench.devices, 60.0, 10.0, real_s)
            no_bthome = bench.gateway(make_devices(NO_BTHOME_MIX), 1.0, 5.0, window / 2)
            stored, dead_letters = store.count("climate"), dead.count()
    report(runs, real, no_bthome, stored, dead_letters)
    return 0


def report(
    runs: dict[str, list[Figures]], real: Figures, no_bthome: Figures, stored: int, dead: int
) -> None:
    fast, idle, feeder = runs["fast"], runs["idle"], runs["feeder"]
    bare_mb, imports_mb = med(runs["bare"], "rss_steady"), med(runs["imports"], "rss_steady")
    idle_mb, idle_cpu = med(idle, "rss_steady"), med(idle, "cpu_pct")
    feeder_per_advert = (
        med(feeder, "cpu_pct") / 100 / (med(feeder, "adverts") / med(feeder, "window_s"))
    )
    fast_rate = med(fast, "readings") / med(fast, "window_s")
    fast_net = med(fast, "cpu_pct") - med(feeder, "cpu_pct")
    per_reading_ms = 1000 * (fast_net - idle_cpu) / 100 / fast_rate
    slow_rate = SENSORS / 60.0
    extrapolated = idle_cpu + per_reading_ms / 1000 * slow_rate * 100
    real_net = real.cpu_pct - 100 * feeder_per_advert * real.adverts / real.window_s
    n = len(fast)
    print(
        f"\ngateway with {SENSORS} sensors ({', '.join(f'{c} {k}' for k, c in BLE_MIX)}; "
        f"{', '.join(f'{c} {k}' for k, c in SERIAL_MIX)}); medians of {n}"
    )
    print("resident memory (MB)            ready   steady    peak")
    for name, runs_ in (("bare python", runs["bare"]), ("python + same modules",
                        runs["imports"]), ("idle gateway (no sensors)", idle),
                        ("gateway, 1 reading/s/sensor", fast)):  # fmt: skip
        print(
            f"  {name:28s} {med(runs_, 'rss_ready'):7.1f} {med(runs_, 'rss_steady'):8.1f} "
            f"{med(runs_, 'rss_peak'):7.1f}"
        )
    print(
        f"  {'gateway, 1 reading/min, once':28s} {real.rss_ready:7.1f} {real.rss_steady:8.1f} "
        f"{real.rss_peak:7.1f}   (steady = 2nd half of {real.window_s / 60:.1f} min)"
    )
    print(
        f"  {'same, no BTHome (80 ruuvi), once':28s} {no_bthome.rss_ready:7.1f} "
        f"{no_bthome.rss_steady:8.1f} {no_bthome.rss_peak:7.1f}   (1 reading/s/sensor)"
    )
    gw_mb = max(med(fast, "rss_steady"), real.rss_steady)
    print(
        f"  ratios: gateway / bare = {gw_mb / bare_mb:.2f}, gateway / same modules = "
        f"{gw_mb / imports_mb:.2f}, gateway / idle gateway = {gw_mb / idle_mb:.2f}"
    )
    peak = max(med(fast, "rss_peak"), real.rss_peak)
    verdict = "met" if peak <= TARGET_MB else "NOT met"
    print(f"  target ≤ {TARGET_MB:.0f} MB resident: {verdict} (peak {peak:.1f} MB)")
    print("CPU (% of one core)")
    print(f"  idle gateway                      {idle_cpu:6.2f} %")
    print(
        f"  feeder alone at {med(feeder, 'adverts') / med(feeder, 'window_s'):.0f} adverts/s"
        f"          {med(feeder, 'cpu_pct'):6.2f} %  (bench cost, subtracted below)"
    )
    print(
        f"  gateway at {fast_rate:.0f} readings/s, raw     {med(fast, 'cpu_pct'):6.2f} %, "
        f"net of feeder {fast_net:.2f} %"
    )
    print(f"  CPU per reading (net − idle)      {per_reading_ms:6.3f} ms")
    print(
        f"  1 reading/min/sensor, extrapolated {extrapolated:5.2f} %  (= idle + "
        f"{slow_rate:.2f} readings/s × per reading)"
    )
    print(
        f"  1 reading/min/sensor, measured    {real_net:6.2f} %  over {real.window_s:.0f} s "
        f"({real.readings} readings stored; raw {real.cpu_pct:.2f} %)"
    )
    worst = max(extrapolated, real_net)
    print(
        f"  target < 2 %: {'met' if worst < 2.0 else 'NOT met'} ({worst:.2f} % = "
        f"{worst / 2:.2f} × the limit; 'well under', read as ≤ half: "
        f"{'yes' if worst <= 1.0 else 'no'})"
    )
    print(f"store holds {stored} readings, {dead} dead letters")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=30.0, help="fast-rate window")
    parser.add_argument("--real-s", type=float, default=120.0, help="1 reading/min run")
    parser.add_argument("--quick", action="store_true", help="1 repeat, short windows (smoke)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="only: the gateway's Python heap by package"
    )
    parser.add_argument(
        "--gateway-python",
        type=Path,
        help="run the gateway children with this interpreter, e.g. .venv-edge/bin/python "
        "(the edge-only install a Raspberry Pi has)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.window_s, args.real_s = 1, 8.0, 20.0
    return args


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(child_main(arguments) if arguments.child else main(arguments))
