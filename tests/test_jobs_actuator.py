"""Window actuator faults: commanded ≠ reported position after the travel time (DOMAIN.md,
"Automatic window safety") — the pure rule, then through the jobs runner into the alert store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from cloud.analytics.alert_store import AlertStore
from cloud.analytics.alerts import Alert, AlertKind, AlertState, Severity
from cloud.jobs.actuator_job import (
    CONDITION_COLUMNS,
    WINDOW_MEASUREMENT,
    actuator_faults,
    flat_observations,
)
from cloud.jobs.runner import JobsConfig, run_jobs_once
from cloud.registry import Building, Flat, Registry
from cloud.store.base import Point, points_frame
from cloud.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """One ``window`` point, `at` seconds after T0."""

    at: float
    commanded: float | None = None
    reported: float | None = None
    travel_s: float | None = None
    flat: str = "B1-01"
    window: str = "w1"


def _frame(rows: list[Row]) -> pd.DataFrame:
    """What `store.query("window", …)` returns for these points."""
    fields: dict[str, list[float | None]] = {"commanded_pct": [], "reported_pct": []}
    if any(r.travel_s is not None for r in rows):
        fields["travel_s"] = [r.travel_s for r in rows]
    fields["commanded_pct"] = [r.commanded for r in rows]
    fields["reported_pct"] = [r.reported for r in rows]
    time_ns = [int((T0 + timedelta(seconds=r.at)).timestamp() * 1e9) for r in rows]
    tags = {
        "building": ["B1"] * len(rows),
        "flat": [r.flat for r in rows],
        "window": [r.window for r in rows],
    }
    return points_frame(time_ns, tags, fields)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# name: (rows, now in s after T0, pending, fault, since in s after T0)
VECTORS: dict[str, tuple[list[Row], float, bool, bool, float]] = {
    "reached on time": ([Row(0, commanded=100), Row(60, reported=100)], 120, False, False, 90),
    "still travelling, no report yet": ([Row(0, commanded=100)], 60, True, False, 0),
    "no report at all after the travel time": ([Row(0, commanded=100)], 120, False, True, 90),
    "late report, right position": (
        [Row(0, commanded=100), Row(200, reported=100)],
        300,
        False,
        False,
        200,
    ),
    "late report not yet arrived at now": (
        [Row(0, commanded=100), Row(400, reported=100)],
        300,
        False,
        True,
        90,
    ),
    "stuck at 0 % after a 100 % command": (
        [Row(0, commanded=100), Row(30, reported=0), Row(120, reported=0)],
        300,
        False,
        True,
        120,
    ),
    "latest report wins": (
        [Row(0, commanded=100), Row(60, reported=100), Row(150, reported=40)],
        300,
        False,
        True,
        150,
    ),
    "within tolerance (8 points off)": (
        [Row(0, commanded=50), Row(60, reported=58)],
        120,
        False,
        False,
        90,
    ),
    "at the tolerance (10 points off)": (
        [Row(0, commanded=50), Row(60, reported=40)],
        120,
        False,
        False,
        90,
    ),
    "just outside tolerance (11 points off)": (
        [Row(0, commanded=50), Row(60, reported=61)],
        120,
        False,
        True,
        90,
    ),
    "report in the command's own point is the old position": (
        [Row(0, commanded=100, reported=100)],
        120,
        False,
        True,
        90,
    ),
    "report before the command does not answer it": (
        [Row(-10, reported=100), Row(0, commanded=100)],
        120,
        False,
        True,
        90,
    ),
    "new command resets the clock": (
        [Row(0, commanded=100), Row(100, reported=0), Row(200, commanded=0)],
        250,
        True,
        False,
        200,
    ),
    "new command unanswered after its travel time": (
        [Row(0, commanded=100), Row(100, reported=100), Row(200, commanded=0)],
        300,
        False,
        True,
        290,
    ),
    "new command answered": (
        [Row(0, commanded=100), Row(100, reported=0), Row(200, commanded=0), Row(220, reported=0)],
        300,
        False,
        False,
        290,
    ),
    "slow window: travel_s on the command": (
        [Row(0, commanded=100, travel_s=300)],
        200,
        True,
        False,
        0,
    ),
    "slow window past its own travel time": (
        [Row(0, commanded=100, travel_s=300), Row(100, reported=20)],
        310,
        False,
        True,
        300,
    ),
}


@pytest.mark.parametrize(
    ("rows", "now_s", "pending", "fault", "since_s"), VECTORS.values(), ids=VECTORS.keys()
)
def test_condition_of_one_window(
    rows: list[Row], now_s: float, pending: bool, fault: bool, since_s: float
) -> None:
    out = actuator_faults(_frame(rows), _at(now_s), travel_s=90, tolerance_pct=10)
    assert len(out) == 1
    row = out.iloc[0]
    assert (bool(row["pending"]), bool(row["fault"])) == (pending, fault)
    assert row["since"] == pd.Timestamp(_at(since_s))


def test_several_windows_and_flats() -> None:
    rows = [
        Row(0, commanded=100, flat="A", window="kitchen"),
        Row(50, reported=100, flat="A", window="kitchen"),
        Row(0, commanded=100, flat="A", window="bedroom"),  # never answers
        Row(250, commanded=100, flat="B", window="w1"),  # still travelling at 300
        Row(0, commanded=30, flat="C", window="w1"),
        Row(40, reported=30, flat="C", window="w1"),
        Row(10, commanded=0, flat="C", window="w2"),
        Row(70, reported=0, flat="C", window="w2"),
        Row(0, commanded=100, flat="D", window="w1"),  # faulty ...
        Row(280, commanded=100, flat="D", window="w2"),  # ... and pending
        Row(20, reported=50, flat="E", window="w1"),  # never commanded: no condition
    ]
    out = actuator_faults(_frame(rows), _at(300))
    assert list(out.columns) == ["building", *CONDITION_COLUMNS]
    got = {(r.flat, r.window): (r.pending, r.fault) for r in out.itertuples()}
    assert got == {
        ("A", "bedroom"): (False, True),
        ("A", "kitchen"): (False, False),
        ("B", "w1"): (True, False),
        ("C", "w1"): (False, False),
        ("C", "w2"): (False, False),
        ("D", "w1"): (False, True),
        ("D", "w2"): (True, False),
    }
    # per flat: any faulty window → 1 from when it began; all fine → 0 from the latest verdict;
    # pending and none faulty → no observation
    assert flat_observations(out) == [
        ("A", 1.0, _at(90)),
        ("C", 0.0, _at(100)),
        ("D", 1.0, _at(90)),
    ]


def test_tolerance_and_travel_are_parameters() -> None:
    frame = _frame([Row(0, commanded=50), Row(60, reported=65)])
    assert bool(actuator_faults(frame, _at(120))["fault"].iloc[0])
    assert not actuator_faults(frame, _at(120), tolerance_pct=20)["fault"].iloc[0]
    assert actuator_faults(frame, _at(120), travel_s=150)["pending"].iloc[0]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"time": pd.to_datetime([], utc=True)}),
        _frame([Row(0, reported=20)]).drop(columns="commanded_pct"),
    ],
    ids=["empty", "reports only"],
)
def test_no_commands_no_conditions(frame: pd.DataFrame) -> None:
    out = actuator_faults(frame, _at(0))
    assert out.empty


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        actuator_faults(_frame([Row(0, commanded=1)]), datetime(2026, 3, 2, 10))  # noqa: DTZ001


# --- through the jobs runner ------------------------------------------------------------------

FLATS = ("B1-01", "B1-02", "B1-03")
CONFIG = JobsConfig(lookback=timedelta(days=1))
FAULT = {"kind": AlertKind.ACTUATOR_FAULT.value}


def _point(at_s: float, flat: str, **fields: float) -> Point:
    tags = {"building": "B1", "flat": flat, "window": "w1"}
    return Point(WINDOW_MEASUREMENT, tags, fields, int(_at(at_s).timestamp()) * 1_000_000_000)


def _actuator_alerts(state_dir: Path) -> list[Alert]:
    with AlertStore(state_dir / "alerts.sqlite") as alerts:
        return alerts.query(kinds=[AlertKind.ACTUATOR_FAULT])


def test_stuck_window_raises_dedupes_and_clears(tmp_path: Path) -> None:
    registry = Registry(
        buildings=[Building(id="B1", flats=[Flat(id=f, area_m2=60) for f in FLATS])]
    )
    state = tmp_path / "jobs"
    with SqliteStore(tmp_path / "store.sqlite") as store:
        store.write(
            [
                _point(0, "B1-01", commanded_pct=100.0),  # stuck at 0 %
                _point(30, "B1-01", reported_pct=0.0),
                _point(120, "B1-01", reported_pct=0.0),
                _point(0, "B1-02", commanded_pct=100.0),  # opens as told
                _point(60, "B1-02", reported_pct=100.0),
            ]
        )  # B1-03 has no motorised window

        run_jobs_once(store, registry, state, _at(600), config=CONFIG)
        (raised,) = _actuator_alerts(state)
        assert (raised.flat, raised.state, raised.severity) == (
            "B1-01",
            AlertState.NEW,
            Severity.WARN,
        )
        assert raised.raised_at == _at(120)  # the last wrong report after the travel time
        assert "Vinduesmotoren svarer ikke" in raised.advice_da
        assert store.count("alerts", where=FAULT) == 1

        run_jobs_once(store, registry, state, _at(900), config=CONFIG)  # nothing new
        assert _actuator_alerts(state) == [raised]

        store.write([_point(1200, "B1-01", reported_pct=100.0)])  # repaired
        run_jobs_once(store, registry, state, _at(1500), config=CONFIG)
        (still,) = _actuator_alerts(state)
        assert still.open  # 5 min of good reports: within the clear delay (10 min)

        run_jobs_once(store, registry, state, _at(2100), config=CONFIG)
        (cleared,) = _actuator_alerts(state)
        assert (cleared.id, cleared.state) == (raised.id, AlertState.CLEARED)
        assert cleared.cleared_at == _at(2100)
        assert store.count("alerts", where=FAULT) == 2  # raised, cleared
