"""Window actuator faults: commanded position ≠ reported position after the travel time.

DOMAIN.md ("Automatic window safety"): a window controller that does not reach the commanded
position within its travel time has a fault — the motor, the chain or the controller — and the
technician must be told (alert kind ``actuator-fault``, cloud/analytics/alerts.py).

Store schema (what the gateway writes once window control lands — nothing writes it yet):

* measurement ``window`` (`WINDOW_MEASUREMENT`);
* tags ``building``, ``flat``, ``window`` (the window id, as in the MQTT topic
  ``…/windows/<window-id>/…``);
* fields

  - ``commanded_pct``: the commanded opening, 0 (closed) … 100 (fully open) %, written once at the
    time the command is sent to the controller;
  - ``reported_pct``: the opening the controller reports (Modbus register or end-stop contacts),
    0 … 100 %, written whenever a report arrives;
  - ``travel_s`` (optional, on the command point): the time the controller needs for the move; if
    absent `DEFAULT_TRAVEL_S` is used.

  A command and a report are separate points; a report stamped at exactly the command's time is the
  position *before* the move and does not answer the command.

Rule per (flat, window), evaluated at ``now`` (`actuator_faults`): take the latest command
at or before ``now``; it is *due* ``travel_s`` after it was sent. Before that it is *pending* (no
verdict). From then on it is a **fault** when no report arrived after the command, or when the
latest report after it differs from the commanded opening by more than ``tolerance_pct``
percentage points. A new command restarts the clock. A flat's value for the alert machine
(`flat_observations`) is 1 when any of its windows is faulty, 0 when all are fine, and nothing
while a window is pending and none is faulty — so the raise, hysteresis and clear delay of
``RULES[ACTUATOR_FAULT]`` apply as for the other kinds.

Defaults (assumptions, not measured; both are parameters, and ``travel_s`` per command overrides
the first): 90 s of travel — a chain actuator running a few hundred millimetres at a few mm/s
needs on the order of a minute for a full stroke, so 90 s leaves margin; set it from the window
controller's configured run time when window control lands. 10 % tolerance — such drives' position
feedback is coarse (end-stop contacts, or a position estimated from run time).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from cloud.registry import Building
from cloud.store.base import TimeSeriesStore

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

WINDOW_MEASUREMENT: Final = "window"
DEFAULT_TRAVEL_S: Final = 90.0
DEFAULT_TOLERANCE_PCT: Final = 10.0
CONDITION_COLUMNS: Final = (
    "flat",
    "window",
    "commanded_at",
    "commanded_pct",
    "due_at",
    "reported_at",
    "reported_pct",
    "pending",
    "fault",
    "since",
)
"""Columns of `actuator_faults` (after ``building`` when the input has it)."""


def actuator_faults(
    frame: pd.DataFrame,
    now: datetime,
    travel_s: float = DEFAULT_TRAVEL_S,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> pd.DataFrame:
    """The condition of every commanded window at `now`, one row per ([building,] flat, window).

    `frame` is ``store.query("window", …)``: ``time``, the tags, ``commanded_pct`` and optionally
    ``reported_pct`` and ``travel_s``. Rows after `now` are ignored; windows never commanded are
    left out. Columns (`CONDITION_COLUMNS`): the latest command (time, %), when it is due, the
    latest report after it (NaT/NaN if none), ``pending`` (before due), ``fault`` (due and no
    report or off by more than `tolerance_pct`) and ``since``: from when the verdict holds
    (the later of due time and latest report; for pending rows the command time).
    """
    import pandas as pd

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware UTC")
    if travel_s < 0 or tolerance_pct < 0:
        raise ValueError("travel_s and tolerance_pct must not be negative")
    keys = [k for k in ("building", "flat", "window") if k in frame.columns]
    columns = [*keys[:-2], *CONDITION_COLUMNS] if "building" in keys else list(CONDITION_COLUMNS)
    if frame.empty or "commanded_pct" not in frame.columns or keys[-2:] != ["flat", "window"]:
        return pd.DataFrame(columns=columns)
    now_ts = pd.Timestamp(now)
    rows = frame[frame["time"] <= now_ts].sort_values("time", kind="stable")
    commands = rows[rows["commanded_pct"].notna()].drop_duplicates(keys, keep="last")
    travel = commands["travel_s"].fillna(travel_s) if "travel_s" in commands.columns else travel_s
    out = pd.DataFrame(
        {
            **{k: commands[k].astype(str) for k in keys},
            "commanded_at": commands["time"],
            "commanded_pct": commands["commanded_pct"].astype(float),
            "due_at": commands["time"] + pd.to_timedelta(travel, unit="s"),
        }
    )
    if "reported_pct" in rows.columns:
        reports = rows.loc[rows["reported_pct"].notna(), [*keys, "time", "reported_pct"]]
        reports = reports.astype({k: str for k in keys}).merge(
            out[[*keys, "commanded_at"]], on=keys, how="inner"
        )
        reports = reports[reports["time"] > reports["commanded_at"]]
        latest = reports.drop_duplicates(keys, keep="last").rename(columns={"time": "reported_at"})
        out = out.merge(latest[[*keys, "reported_at", "reported_pct"]], on=keys, how="left")
    else:
        out["reported_at"] = pd.NaT
        out["reported_pct"] = float("nan")
    out["reported_at"] = pd.to_datetime(out["reported_at"], utc=True)
    out["reported_pct"] = out["reported_pct"].astype(float)
    out["pending"] = out["due_at"] > now_ts
    off = (out["reported_pct"] - out["commanded_pct"]).abs() > tolerance_pct
    out["fault"] = ~out["pending"] & (out["reported_pct"].isna() | off)
    reported = out["reported_at"].fillna(out["due_at"])
    since = out["due_at"].where(out["due_at"] >= reported, reported)
    out["since"] = since.where(~out["pending"], out["commanded_at"])
    return out[columns].sort_values(keys, kind="stable", ignore_index=True)


def flat_observations(conditions: pd.DataFrame) -> list[tuple[str, float, datetime]]:
    """Per flat, its actuator-fault value (1 any window faulty, 0 all fine) and the time from
    which it holds: the earliest faulty window's ``since``, or the latest ``since`` when all are
    fine. Flats with a pending window and no faulty one are left out (no verdict yet)."""
    observations: list[tuple[str, float, datetime]] = []
    for flat, windows in conditions.groupby("flat", sort=True):
        faulty = windows[windows["fault"].astype(bool)]
        if not faulty.empty:
            observations.append((str(flat), 1.0, faulty["since"].min().to_pydatetime()))
        elif not windows["pending"].astype(bool).any():
            observations.append((str(flat), 0.0, windows["since"].max().to_pydatetime()))
    return observations


def actuator_observations(
    store: TimeSeriesStore,
    building: Building,
    now: datetime,
    lookback: timedelta,
    *,
    travel_s: float = DEFAULT_TRAVEL_S,
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT,
) -> list[tuple[str, float, datetime]]:
    """Observations (flat, value, at) for the alert machine, in feeding order: each flat's value
    at the time its verdict began, then again at `now` so the clear delay can run out.

    Reads the building's ``window`` points of the last `lookback`; flats not in the registry are
    ignored. A fault whose command is older than `lookback` is no longer seen, so an open alert
    stays open until the window is commanded again."""
    frame = store.query(WINDOW_MEASUREMENT, now - lookback, now, where={"building": building.id})
    if frame.empty:
        return []
    known = {f.id for f in building.flats}
    unknown = sorted(set(frame.get("flat", [])) - known)
    if unknown:
        log.warning(
            "bygning %s: vinduesdata for ukendte lejligheder %s ignoreres / window data for flats "
            "not in the registry ignored — add them to the registry",
            building.id,
            unknown,
        )
    conditions = actuator_faults(frame, now, travel_s, tolerance_pct)
    conditions = conditions[conditions["flat"].isin(known)]
    observations: list[tuple[str, float, datetime]] = []
    for flat, value, since in flat_observations(conditions):
        observations += [(flat, value, since), (flat, value, now)]
    return observations
