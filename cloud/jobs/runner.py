"""The analytics jobs, per building: mould model (incremental), comfort index, alerts.

`run_jobs_once(store, registry, state_dir, now)` is the whole job as one call; the CLI
(`indeklima jobs run`) calls it once or on a schedule. Per building:

1. **Mould**: hourly means of ``climate`` temperature_c/humidity_pct per flat *and room* (mould
   grows in the coldest, dampest room — averaging a dry living room with a damp bedroom would hide
   it) and the building's outdoor temperature (``weather``.temperature_c, tag building; short gaps
   ≤ 3 h interpolated). Surface conditions with the flat's fRsi (registry), the VTT model carried
   on from the state in ``state_dir/<building>.json`` for the hours since the last run (at most
   `JobsConfig.lookback` back on the first run; only complete hours). Results go to measurement
   ``mould`` (tags building, flat, room; fields mould_index, surface_rh_pct,
   surface_temperature_c). Without outdoor temperature the mould job for that building is
   skipped and said so (log error + `JobsSummary.skipped`) — never computed from a guess.
2. **Comfort**: the current local month's 5-minute means per flat → monthly index and traffic
   light (cloud/analytics/comfort.py) → measurement ``comfort_index`` (tags building, flat).
3. **Alerts**: per flat, mould index and surface RH (the worst room) hour by hour, CO2 (worst
   room, 5-minute maxima) and sensor silence (minutes since the flat's last reading) through the
   alert state machine (cloud/analytics/alerts.py), and window actuator faults
   (cloud/jobs/actuator_job.py, measurement ``window``); changed alerts are stored (`AlertStore`),
   written as ``alerts`` points, handed to `publisher` (MQTT) and to Grafana when configured.
4. **Rollups**: hourly and daily (local days) mean/min/max per flat and room of the hours in the
   last `JobsConfig.rollup_recheck` whose readings changed (cloud/store/rollup.py), so long
   chart ranges read rollups, not raw points.
5. **Mail** (when `JobsConfig.mail` is set): residents who opted in get one e-mail per new alert
   episode on their flat (cloud/mail/mailer.py); an SMTP failure is logged and retried at the
   next run, never stops the jobs.
6. **Diagnosis**: per flat, the 7 days up to today's midnight (cloud/jobs/diagnosis_job.py):
   envelope / ventilation / habits with evidence and advice → measurement ``diagnosis``.

`JobsSummary.mould_alerts` counts open *mould-risk* alerts: mould index ≥ 1 and surface RH ≥ 80 %
for 6 h. The VTT index needs weeks of damp conditions to reach 1 on a sensitive surface, so
within days the surface-RH alert is the early warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloud.analytics.alerts import Alert, AlertKind, Track, update
from cloud.analytics.vtt import Sensitivity
from cloud.jobs.actuator_job import actuator_observations
from cloud.jobs.mould_job import MouldResult, mould_for_building
from cloud.registry import Building, Registry
from cloud.store.base import CLIMATE, Point, TimeSeriesStore
from cloud.store.rollup import refresh_rollups

if TYPE_CHECKING:
    import pandas as pd

    from cloud.analytics.alert_store import AlertStore
    from cloud.mail.settings import MailSettings

log = logging.getLogger(__name__)

COMFORT_MEASUREMENT = "comfort_index"
MOULD_RISK_KINDS = frozenset({AlertKind.MOULD, AlertKind.SURFACE_RH})
Publisher = Callable[[Sequence[Alert]], object]


@dataclass(frozen=True, slots=True)
class JobsConfig:
    sensitivity: Sensitivity = Sensitivity.SENSITIVE
    """Gypsum board and wallpaper: what the worst wall of a Danish flat usually is."""
    cmat: float = 0.5
    """Decline coefficient: between the reference (1) and almost none (0.1)."""
    lookback: timedelta = timedelta(days=35)
    alerts_url: str | None = None
    """SQLAlchemy URL of the alert store; default ``state_dir/alerts.sqlite``."""
    grafana_url: str | None = None
    grafana_token: str | None = None
    rollup_recheck: timedelta = timedelta(days=7)
    """How far back each run looks for hours whose readings changed (late readings from a
    gateway's outbox after an outage); older late readings need ``refresh_rollups`` by hand."""
    mail: MailSettings | None = None
    """SMTP and link settings for the alert e-mails; None: no mail."""
    accounts_url: str | None = None
    """SQLAlchemy URL of the accounts (cloud/accounts): mail only subscribers who still live in
    the flat with an active account. None: every opted-in subscriber (no accounts yet)."""


@dataclass(slots=True)
class JobsSummary:
    buildings: int = 0
    flats: int = 0
    hours_processed: int = 0
    mould_alerts: int = 0
    flats_red_this_month: int = 0
    alerts_changed: int = 0
    heat_share_points: int = 0
    rollup_hours: int = 0
    mails_sent: int = 0
    mails_failed: int = 0
    flats_diagnosed: int = 0
    mould_alert_flats: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def run_jobs_once(
    store: TimeSeriesStore,
    registry: Registry,
    state_dir: Path,
    now: datetime,
    publisher: Publisher | None = None,
    *,
    config: JobsConfig = JobsConfig(),
) -> JobsSummary:
    """Run every job for every building up to `now` (timezone-aware); see the module doc."""
    from cloud.analytics.alert_publish import alerts_to_points, push_annotations
    from cloud.analytics.alert_store import AlertStore

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware UTC")
    now = now.astimezone(UTC)
    state_dir.mkdir(parents=True, exist_ok=True)
    summary = JobsSummary()
    with AlertStore(config.alerts_url or state_dir / "alerts.sqlite") as alert_store:
        for building in registry.buildings:
            summary.buildings += 1
            summary.flats += len(building.flats)
            changed = _run_building(store, building, state_dir, now, config, summary)
            if changed:
                alert_store.save(changed)
                store.write(alerts_to_points(changed))
                if publisher is not None:
                    publisher(changed)
                push_annotations(changed, config.grafana_url, token=config.grafana_token)
            summary.alerts_changed += len(changed)
            summary.heat_share_points += _write_heat_shares(store, registry, building, now, summary)
            rolled = refresh_rollups(store, building.id, now - config.rollup_recheck, now)
            summary.rollup_hours += rolled.hours
            summary.flats_diagnosed += _write_diagnoses(store, building, now)
        if config.mail is not None:
            _send_mail(alert_store, config.mail, config.accounts_url, now, summary)
        mould = [a for a in alert_store.open_alerts() if a.kind in MOULD_RISK_KINDS]
        summary.mould_alerts = len(mould)
        summary.mould_alert_flats = sorted({a.flat for a in mould})
    return summary


def _send_mail(
    alert_store: AlertStore,
    settings: MailSettings,
    accounts_url: str | None,
    now: datetime,
    summary: JobsSummary,
) -> None:
    """The mail step; whatever goes wrong in it is logged, and the jobs carry on."""
    from contextlib import ExitStack

    from cloud.mail.mailer import send_alert_mails
    from cloud.mail.prefs import MailPrefs

    try:
        with ExitStack() as stack:
            prefs = stack.enter_context(MailPrefs(alert_store.url))
            directory = None
            if accounts_url is not None:
                from cloud.accounts.db import make_engine
                from cloud.mail.directory import AccountsDirectory

                engine = make_engine(accounts_url)
                stack.callback(engine.dispose)
                directory = AccountsDirectory(engine)
            run = send_alert_mails(prefs, alert_store, settings, now, directory)
    except Exception:  # the jobs' results are stored already; mail is retried next run
        log.exception(
            "alarm-mails kunne ikke sendes; prøver igen ved næste kørsel / alert mails failed; "
            "will retry at the next run"
        )
        summary.mails_failed += 1
        return
    summary.mails_sent += run.sent
    summary.mails_failed += run.failed


def _write_diagnoses(store: TimeSeriesStore, building: Building, now: datetime) -> int:
    """The week up to `now`'s day (cloud/jobs/diagnosis_job.py), stamped at that midnight so a
    rerun the same day overwrites it."""
    from cloud.jobs.diagnosis_job import diagnose_building, diagnosis_points

    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    found = diagnose_building(store, building, end)
    store.write(diagnosis_points(building.id, end, found))
    return len(found)


def _write_heat_shares(
    store: TimeSeriesStore,
    registry: Registry,
    building: Building,
    now: datetime,
    summary: JobsSummary,
) -> int:
    """Each flat's running share and estimated amount for the open month (issue 5), so
    Grafana can show heating shares next to the climate. Needs the building's budget."""
    from cloud.settlement.periods import current_month
    from cloud.settlement.store_io import heat_shares_from_store

    if building.heating_budget_dkk_per_month is None:
        return 0
    start, end = current_month(now)  # the Danish calendar month, as settlements use
    if now - start < timedelta(hours=1):
        return 0  # nothing measured in the new month yet
    try:
        points = heat_shares_from_store(
            store, registry, building.id, start, end, building.heating_budget_dkk_per_month, now
        )
    except ValueError as exc:
        summary.skipped.append(f"{building.id}: heat shares not estimated: {exc}")
        return 0
    store.write(points)
    return len(points)


def _state_path(state_dir: Path, building_id: str) -> Path:
    return state_dir / f"{building_id}.json"


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RuntimeError(
            f"tilstandsfilen {path} kan ikke læses ({exc}); slet den for at starte forfra / "
            f"cannot read the job state {path}; delete it to start over"
        ) from exc
    return data


def _save_state(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    tmp.replace(path)


def _run_building(
    store: TimeSeriesStore,
    building: Building,
    state_dir: Path,
    now: datetime,
    config: JobsConfig,
    summary: JobsSummary,
) -> list[Alert]:
    path = _state_path(state_dir, building.id)
    state = _load_state(path)
    tracks = {k: Track.from_json(v) for k, v in state.get("tracks", {}).items()}
    changed: list[Alert] = []

    def feed(flat: str, kind: AlertKind, value: float | None, at: datetime) -> None:
        key = f"{flat}/{kind.value}"
        track = tracks.get(key) or Track(building.id, flat, kind)
        tracks[key], alert = update(track, value, at)
        if alert is not None:
            changed.append(alert)

    mould: MouldResult = mould_for_building(store, building, now, state.get("mould"), config)
    if mould.skipped:
        summary.skipped.append(mould.skipped)
    else:
        state["mould"] = mould.state
        store.write(mould.points)
        summary.hours_processed += mould.hours
        for hour, row in mould.flat_hours:
            for flat_id, (m, surface_rh) in row.items():
                feed(flat_id, AlertKind.MOULD, m, hour)
                feed(flat_id, AlertKind.SURFACE_RH, surface_rh, hour)

    five_min = _recent_climate(store, building, now, config)
    co2_from = datetime.fromisoformat(state["co2_until"]) if "co2_until" in state else None
    if not five_min.empty and "co2_ppm" in five_min.columns:
        co2 = five_min.dropna(subset=["co2_ppm"]).sort_values("time", kind="stable")
        if co2_from is not None:
            co2 = co2[co2["time"] >= co2_from]
        for row in co2.itertuples(index=False):
            at = row.time.to_pydatetime() + timedelta(minutes=5)
            feed(str(row.flat), AlertKind.CO2, float(row.co2_ppm), at)
    state["co2_until"] = _five_minute_floor(now).isoformat()
    last_seen = five_min.groupby("flat")["time"].max() if not five_min.empty else {}
    for flat in building.flats:
        seen = last_seen.get(flat.id) if len(last_seen) else None
        since = (seen.to_pydatetime() + timedelta(minutes=5)) if seen is not None else None
        silent = (
            (now - since).total_seconds() / 60 if since else config.lookback / timedelta(minutes=1)
        )
        feed(flat.id, AlertKind.SENSOR_SILENT, max(silent, 0.0), now)
    for flat_id, fault, at in actuator_observations(store, building, now, config.lookback):
        feed(flat_id, AlertKind.ACTUATOR_FAULT, fault, at)

    summary.flats_red_this_month += _comfort(store, building, now, five_min)
    state["tracks"] = {k: t.to_json() for k, t in tracks.items()}
    _save_state(path, state)
    return changed


def _five_minute_floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0) - timedelta(minutes=t.minute % 5)


def _month_start(now: datetime) -> datetime:
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("Europe/Copenhagen"))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def _recent_climate(
    store: TimeSeriesStore, building: Building, now: datetime, config: JobsConfig
) -> pd.DataFrame:
    """5-minute means per flat from the start of the local month (or the last day, if longer)
    to now, plus the 5-minute CO2 maxima (the worst room) in ``co2_ppm``."""
    start = min(_month_start(now), now - timedelta(days=1))
    every = timedelta(minutes=5)
    where = {"building": building.id}
    means = store.downsample(
        CLIMATE, start, now, every, where=where, fields=["temperature_c", "humidity_pct"]
    )
    maxima = store.downsample(
        CLIMATE, start, now, every, where=where, fields=["co2_ppm"], aggregate="max"
    )
    if means.empty and maxima.empty:
        return means
    if maxima.empty:
        return means
    if means.empty:
        return maxima
    return means.merge(maxima[["time", "flat", "co2_ppm"]], on=["time", "flat"], how="outer")


def _comfort(
    store: TimeSeriesStore, building: Building, now: datetime, five_min: pd.DataFrame
) -> int:
    """Write this month's comfort index per flat; return how many flats are red."""
    from cloud.analytics.comfort import monthly_index

    if five_min.empty:
        return 0
    month_start = _month_start(now)
    month = five_min[five_min["time"] >= month_start]
    index = monthly_index(month)
    if index.empty:
        return 0
    stamp = int(month_start.timestamp()) * 1_000_000_000
    points = [
        Point(
            COMFORT_MEASUREMENT,
            {"building": building.id, "flat": str(row.flat)},
            {
                "month": str(row.month),
                "light": str(row.light),
                "intervals": int(row.intervals),
                **{
                    f"share_level_{i}": float(getattr(row, f"share_level_{i}")) for i in range(1, 5)
                },
            },
            stamp,
        )
        for row in index.itertuples(index=False)
    ]
    store.write(points)
    current = index[index["month"] == index["month"].max()]
    return int((current["light"] == "red").sum())
