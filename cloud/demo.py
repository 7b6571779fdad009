"""``indeklima demo``: the whole system on one machine, on a simulated building.

Parts and processes (the GIL trap measured here — a paho subscriber sharing a process with a busy
publisher got ~100 msg/s — is why ingest runs in its own process):

* a private Mosquitto child process (or ``--mqtt-url``);
* ``indeklima ingest`` as a child process writing the SQLite store (or ``--influx-url``);
* this process: the simulated building, its devices (BLE adverts through the injected bleak
  adapter, serial sensors on real ptys) and the gateway reading them through its real drivers;
* after the simulated period: the analytics jobs and the heating settlement, then a summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from cloud.registry import Registry
from cloud.servers import MosquittoServer
from cloud.store.base import CLIMATE, Point, TimeSeriesStore
from cloud.store.open import open_store
from edge.config import SERIAL_KINDS, GatewayConfig
from edge.gateway import Gateway

log = logging.getLogger(__name__)

STEP_S = 60.0
WEATHER_EVERY_S = 300.0
PRICE_DKK_PER_KWH = 0.85
"""District-heating price used to turn the simulator's true heat into the building's bill."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    flats: int | None = None
    days: float | None = None
    speed: float | None = None
    seed: int = 1
    port: int = 8080
    web: bool = True
    mqtt_url: str | None = None
    influx_url: str | None = None
    influx_db: str = "indeklima"
    data_dir: Path | None = None
    progress: bool = True
    ventilation_control: bool = True
    """The gateway drives a motorised window per flat (False: residents' hands only)."""
    end: datetime | None = None
    """End of the simulated span (default: now); the benchmark fixes a winter date."""
    demo_password: str | None = None
    """Password of every demo account; None: a random one, printed once at start."""


def _say(opts: DemoOptions, text: str) -> None:
    if opts.progress:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def _start_ingest(
    folder: Path, mqtt_url: str, registry: Path, opts: DemoOptions, sqlite: Path
) -> subprocess.Popen[bytes]:
    store_args = (
        ["--influx-url", opts.influx_url, "--influx-db", opts.influx_db]
        if opts.influx_url
        else ["--sqlite", str(sqlite)]
    )
    with (folder / "ingest.log").open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloud.cli",
                "ingest",
                "--mqtt-url",
                mqtt_url,
                "--client-id",
                "demo-ingest",
                "--registry",
                str(registry),
                "--dead-letters",
                str(folder / "dead_letters.sqlite"),
                # live at --speed X the simulated clock runs ahead of the real one: readings
                # dated in the future are the demo's point, not a gateway's wrong clock
                "--max-clock-skew",
                str(10 * 366 * 86_400),
                *store_args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _scenario_and_registry(opts: DemoOptions, folder: Path) -> tuple[Any, Registry]:
    from firmware_sim.scenario import default_scenario

    scenario = default_scenario(opts.flats)
    layout = scenario.to_registry()
    for building_entry in layout["buildings"]:  # ≈ 110 kWh/m²/year at 0.85 kr./kWh, in 12ths
        area = sum(f["area_m2"] for f in building_entry["flats"])
        building_entry["heating_budget_dkk_per_month"] = round(area * 110 * PRICE_DKK_PER_KWH / 12)
    registry = Registry.model_validate(layout)
    registry.dump_json(folder / "registry.json")
    return scenario, registry


DEMO_STAFF = (
    ("admin", "admin", "Demo administrator"),
    ("technician", "technician", "Demo tekniker"),
    ("finance", "finance", "Demo økonomi"),
    ("finance2", "finance", "Demo økonomi 2"),
)
DEMO_ORGANISATION = "demo-boligselskab"


def seed_demo_people(url: str, registry: Registry, password: str, moved_in: datetime) -> list[str]:
    """The demo's accounts (see README): admin, technician (every building), finance and
    finance2 (the demo organisation), and ``resident-<flat>`` per flat (moved in at
    `moved_in`), all with `password`; existing accounts get the password again. Returns the
    usernames."""
    from cloud.accounts import AccountError, Accounts, Role, ScopeKind
    from cloud.accounts.db import make_engine, seed_registry, upgrade

    engine = make_engine(url)
    upgrade(engine)
    seed_registry(engine, registry, organisation=DEMO_ORGANISATION)
    accounts = Accounts(engine)
    people = [(u, Role(r), n) for u, r, n in DEMO_STAFF] + [
        (f"resident-{f.id}", Role.RESIDENT, f"Beboer {f.id}")
        for b in registry.buildings
        for f in b.flats
    ]
    try:
        for username, role, name in people:
            try:
                accounts.create_user(username, role, password, display_name=name)
            except AccountError:
                accounts.set_password(username, password)
        for b in registry.buildings:
            accounts.assign("technician", ScopeKind.BUILDING, b.id)
            for f in b.flats:
                accounts.add_resident(f"resident-{f.id}", f.id, since=moved_in)
        for username in ("finance", "finance2"):
            accounts.assign(username, ScopeKind.ORGANISATION, DEMO_ORGANISATION)
    finally:
        accounts.close()
    return [username for username, _, _ in people]


def _start_api(
    opts: DemoOptions,
    folder: Path,
    store: TimeSeriesStore,
    registry: Registry,
    stack: contextlib.ExitStack,
    moved_in: datetime,
    mqtt_url: str,
) -> None:
    """Serve the API on ``--port`` with the demo's accounts (URLs of its databases in
    api.env, for ``indeklima api`` and ``indeklima users`` on the same data), and window
    control through the demo's broker."""
    import secrets

    from cloud.api import ApiServer, ApiSettings, create_app
    from cloud.secrets import write_secret_file

    (folder / "jobs").mkdir(exist_ok=True)
    settings = ApiSettings(
        accounts_url=f"sqlite:///{folder / 'accounts.db'}",
        alerts_url=f"sqlite:///{folder / 'jobs' / 'alerts.sqlite'}",
        runs_url=f"sqlite:///{folder / 'settlement_runs.db'}",
        port=opts.port,
    )
    password = opts.demo_password or secrets.token_urlsafe(12)
    users = seed_demo_people(settings.accounts_url, registry, password, moved_in)
    env = folder / "api.env"
    write_secret_file(  # no secrets in it, but written as the other files of the demo
        env,
        f"INDEKLIMA_API_ACCOUNTS_URL={settings.accounts_url}\n"
        f"INDEKLIMA_API_ALERTS_URL={settings.alerts_url}\n"
        f"INDEKLIMA_API_RUNS_URL={settings.runs_url}\n",
        exclusive=False,
    )
    from cloud.control import ControlClient
    from cloud.setpoint_book import SetpointBook

    control = stack.enter_context(ControlClient(mqtt_url, client_id="demo-control"))
    book = SetpointBook(folder / "setpoints.json")
    app = create_app(settings, store, registry, control=control, setpoint_book=book)
    server = stack.enter_context(ApiServer(app, port=opts.port))
    _say(
        opts,
        f"API: {server.url}/docs · brugere / users: {', '.join(users[:5])}"
        f"{', …' if len(users) > 5 else ''}",
    )
    if not opts.demo_password:  # shown once, whatever --json says: there is no other copy
        sys.stderr.write(f"demo-adgangskode / demo password (alle / all users): {password}\n")
        sys.stderr.flush()


async def _simulate(
    opts: DemoOptions,
    folder: Path,
    mqtt_url: str,
    start: datetime,
    end: datetime | None,
    store: TimeSeriesStore,
    scenario: Any,
    registry: Registry,
) -> dict[str, Any]:
    """Run building + devices + gateway from ``start`` to ``end`` (None: until cancelled)."""
    from edge.sensors.ble.injected import REGISTRY, InjectedScanner
    from edge.sensors.ble.source import BleSource
    from edge.sensors.serial.poller import SerialPoller, group_by_port
    from firmware_sim.building import Building
    from firmware_sim.devices.fleet import DeviceFleet
    from firmware_sim.devices.windows import WEATHER_ADDRESS, WindowRig

    building = Building(scenario, seed=opts.seed, start=start)
    adapter_name = f"demo-{os.getpid()}"
    adapter = REGISTRY.get(adapter_name)
    with contextlib.ExitStack() as rigs, DeviceFleet(scenario, seed=opts.seed) as fleet:
        rig = rigs.enter_context(WindowRig(building)) if opts.ventilation_control else None
        ventilation: dict[str, Any] = {}
        if rig is not None:
            ventilation = {
                "ventilation": {
                    "autostep": False,
                    "weather": {"port": rig.port, "modbus_address": WEATHER_ADDRESS},
                    "windows": rig.window_configs(scenario),
                }
            }
        config = GatewayConfig.parse(
            {
                "gateway_id": scenario.gateway_id,
                "mqtt": {"url": mqtt_url, "reconnect_max_s": 5.0},
                "outbox": {"path": str(folder / "outbox.sqlite")},
                "sensors": fleet.gateway_sensors(),
                **ventilation,
            }
        )
        (folder / "gateway.json").write_bytes(config.to_json())
        ble = {s.device: s for s in config.sensors if s.kind not in SERIAL_KINDS}
        by_id = {s.id: s for s in config.sensors}
        ingest = _start_ingest(
            folder, mqtt_url, folder / "registry.json", opts, folder / "store.sqlite"
        )
        try:
            with Gateway(config, clock=lambda: building.now) as gateway:
                async with contextlib.AsyncExitStack() as drivers:
                    await drivers.enter_async_context(
                        BleSource(
                            ble,
                            gateway.on_sample,
                            backend=InjectedScanner,
                            adapter=adapter_name,
                            clock=lambda: building.now.timestamp(),
                        )
                    )
                    pollers: dict[str, SerialPoller] = {}
                    for port, sensors in group_by_port(config.sensors).items():
                        pollers[port] = await drivers.enter_async_context(
                            SerialPoller(sensors, gateway.on_sample, autopoll=False)
                        )
                    figures = await _step_loop(
                        opts,
                        building,
                        fleet,
                        adapter,
                        pollers,
                        by_id,
                        gateway,
                        store,
                        start,
                        end,
                        rig,
                    )
                gateway.flush()
                _say(
                    opts,
                    "venter på at ingest bekræfter alt / waiting for ingest to confirm "
                    f"{gateway.outbox.pending} readings …",
                )
                drained = gateway.uplink.wait_drained(300)
                figures.update(
                    readings_sent=gateway.outbox.added,
                    outbox_pending=gateway.outbox.pending,
                    outbox_dropped=gateway.outbox.dropped,
                    drained=drained,
                    readings_flagged=gateway.readings_flagged,
                )
        finally:
            _stop(ingest)
            REGISTRY.remove(adapter_name)
    figures["truth"] = building.totals()
    return figures


async def _step_loop(
    opts: DemoOptions,
    building: Any,
    fleet: Any,
    adapter: Any,
    pollers: dict[str, Any],
    by_id: dict[str, Any],
    gateway: Gateway,
    store: TimeSeriesStore,
    start: datetime,
    end: datetime | None,
    rig: Any = None,
) -> dict[str, Any]:
    """Step the building; after ``end``, keep going in real time (``--speed``, default 1) until
    SIGINT/SIGTERM when no ``--days`` was given."""
    weather: list[Point] = []
    steps = 0
    wall0 = time.monotonic()
    last_report = 0.0
    building_id = building.scenario.building.id
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    speed = opts.speed if opts.days is not None else None  # the last day fills at full speed
    pace_from = start
    live = False
    hours = {"co2": 0.0, "humidity": 0.0}
    while not stop.is_set():
        if end is not None and building.now >= end:
            if opts.days is not None:
                break
            if not live:
                live, speed, pace_from, wall0 = (
                    True,
                    opts.speed or 1.0,
                    building.now,
                    time.monotonic(),
                )
                _say(
                    opts,
                    "sidste døgn er fyldt; kører nu live — Ctrl-C stopper / "
                    "last day filled; running live — Ctrl-C stops",
                )
        building.step(STEP_S)
        steps += 1
        now = building.now
        due = fleet.measure(building.sensor_truth(), now)
        ports = set()
        for sensor_id in due:
            device = fleet.devices[sensor_id]
            if device.advertiser is not None:
                device.advertiser.advertise(adapter)
            else:
                ports.add(by_id[sensor_id].port)
        for port in sorted(ports):
            await pollers[port].poll_once()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if steps == 1 and rig is not None:
            await _ingest_listening(gateway, stop)
        if rig is not None and gateway.ventilation is not None:
            gateway.ventilation.service.step_once()
            rig.after_step()
        truth = building.flat_arrays()
        hours["co2"] += float((truth["co2_mean_ppm"] > 1200.0).sum()) * STEP_S / 3600.0
        hours["humidity"] += float((truth["humidity_pct"] > 60.0).sum()) * STEP_S / 3600.0
        if (now - start).total_seconds() % WEATHER_EVERY_S < STEP_S:
            wx = building.weather_now()
            weather.append(
                Point(
                    "weather",
                    {"building": building_id},
                    {
                        "temperature_c": float(wx.temperature_c),
                        "humidity_pct": float(wx.humidity_pct),
                        "wind_ms": float(wx.wind_ms),
                    },
                    int(now.timestamp()) * 1_000_000_000,
                )
            )
        if len(weather) >= 288:
            store.write(weather)
            weather = []
        if speed:
            ahead = (now - pace_from).total_seconds() / speed - (time.monotonic() - wall0)
            if ahead > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), ahead)
        if time.monotonic() - last_report > 2.0:
            last_report = time.monotonic()
            gateway.flush()
            _say(
                opts,
                f"  simuleret / simulated {now:%Y-%m-%d %H:%M} UTC · "
                f"{gateway.outbox.added} målinger / readings · "
                f"{gateway.outbox.pending} i udbakken / in the outbox",
            )
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    if weather:
        store.write(weather)
    return {
        "sim_steps": steps,
        "wall_s": round(time.monotonic() - wall0, 2),
        "co2_hours_above_1200_ppm": round(hours["co2"], 1),
        "humidity_hours_above_60_pct": round(hours["humidity"], 1),
        "manual_window_operations": rig.manual_operations if rig is not None else None,
    }


INGEST_START_S = 120.0


async def _ingest_listening(gateway: Gateway, stop: asyncio.Event) -> None:
    """Wait for ingest's first end-to-end ack: from then on it is subscribed. The broker drops
    what arrives before a shared subscription has its first member (afterwards ingest's session
    keeps it); readings and window states would be re-sent until acked anyway, but only after
    ``resend_after_s`` — waiting spares the demo those re-sends."""
    deadline = time.monotonic() + INGEST_START_S
    while gateway.uplink.acks_received == 0 and not stop.is_set():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"ingest har ikke bekræftet noget efter {INGEST_START_S:.0f} s (se ingest.log) / "
                f"ingest confirmed nothing within {INGEST_START_S:.0f} s (see ingest.log)"
            )
        gateway.flush()
        await asyncio.sleep(0.05)


def run_demo(opts: DemoOptions) -> dict[str, Any]:
    """Run the demo; returns the summary (see the README for its keys)."""
    folder = opts.data_dir or Path(tempfile.mkdtemp(prefix="indeklima-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    end = (opts.end or datetime.now(UTC)).replace(second=0, microsecond=0)
    start = end - timedelta(days=opts.days if opts.days is not None else 1.0)
    with contextlib.ExitStack() as stack:
        mqtt_url = opts.mqtt_url
        if mqtt_url is None:
            if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
                raise RuntimeError(
                    "Mosquitto mangler / is missing: apt-get install -y mosquitto "
                    "(or run `make demo`, which installs it), or give --mqtt-url"
                )
            broker = stack.enter_context(MosquittoServer(folder / "mosquitto"))
            mqtt_url = broker.url
        _say(
            opts,
            f"indeklima demo: {folder} · MQTT {mqtt_url} · "
            f"{'InfluxDB ' + opts.influx_url if opts.influx_url else 'SQLite store'}",
        )
        store = open_store(
            sqlite_path=folder / "store.sqlite",
            influx_url=opts.influx_url,
            influx_db=opts.influx_db,
        )
        stack.callback(store.close)
        scenario, registry = _scenario_and_registry(opts, folder)
        if opts.web:
            _start_api(opts, folder, store, registry, stack, start, mqtt_url)
        figures = asyncio.run(
            _simulate(opts, folder, mqtt_url, start, end, store, scenario, registry)
        )
        truth = figures.pop("truth")
        summary: dict[str, Any] = {
            "flats": sum(len(b.flats) for b in registry.buildings),
            "start": start.isoformat(),
            "end": end.isoformat(),
            **figures,
            "readings_stored": store.count(CLIMATE),
        }
        from cloud.deadletter import DeadLetters

        with DeadLetters(folder / "dead_letters.sqlite") as dead:
            summary["dead_letters"] = dead.count()
        summary.update(_analytics(opts, store, registry, folder, start, end, truth))
        summary["data_dir"] = str(folder)
    return summary


def _analytics(
    opts: DemoOptions,
    store: TimeSeriesStore,
    registry: Registry,
    folder: Path,
    start: datetime,
    end: datetime,
    truth: dict[str, Any],
) -> dict[str, Any]:
    from cloud.jobs.runner import run_jobs_once
    from cloud.settlement.periods import floor_local_day, local_date, local_midnight
    from cloud.settlement.store_io import settle_from_store

    _say(opts, "kører analyse-jobs / running analytics jobs …")
    jobs = run_jobs_once(store, registry, folder / "jobs", end)
    building = registry.buildings[0]
    cost_dkk = round(sum(t.radiator_kwh for t in truth.values()) * PRICE_DKK_PER_KWH, 2)
    _say(opts, f"varmeregnskab / heating settlement: {cost_dkk:.2f} kr. …")
    # settle whole Danish days (local midnights, as settlement periods); hours outside the
    # simulated span are substituted by the documented missing-data rule and flagged
    first = floor_local_day(start)
    last = local_date(end - timedelta(microseconds=1))
    result = settle_from_store(
        store, registry, building.id, first, local_midnight(last + timedelta(days=1)), cost_dkk
    )
    return {
        "ventilation_control": opts.ventilation_control,
        "window_open_hours": round(sum(t.window_open_h for t in truth.values()), 1),
        "heat_delivered_kwh": round(sum(t.radiator_kwh for t in truth.values()), 1),
        "mould_alerts": jobs.mould_alerts,
        "mould_alert_flats": jobs.mould_alert_flats,
        "heat_share_points": jobs.heat_share_points,
        "flats_diagnosed": jobs.flats_diagnosed,
        "flats_red_this_month": jobs.flats_red_this_month,
        "settlement_cost_dkk": float(result.cost_dkk),
        "settlement_total_dkk": float(result.total_dkk),
    }


def summary_json(summary: dict[str, Any]) -> str:
    return orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
