"""``indeklima simulate``: the building physics alone, written as the files ``settle`` and
``mould-index`` read — and those commands accept them."""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cloud.cli import main
from cloud.registry import Registry
from firmware_sim import default_scenario, run
from firmware_sim.cli import SimulateError, resolve_period, settle_period, simulate, surface_name

START = datetime(2026, 1, 10, tzinfo=UTC)
END = START + timedelta(days=1)
SEED = 3
RECORDS = 24 * 12  # 5-minute steps in one day


@dataclass(frozen=True)
class Simulated:
    out: Path
    code: int
    stdout: str
    stderr: str


def call(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with its exit code (argparse errors exit), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    out = tmp_path_factory.mktemp("sim") / "new" / "folder"  # created by the command
    argv = ["simulate", "--flats", "2", "--start", "2026-01-10T00:00:00Z"]
    argv += ["--end", "2026-01-11T00:00Z", "--seed", str(SEED), "--out", str(out)]
    return Simulated(out, *call(argv))


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"time": str, "flat_id": str})


FLAT_IDS = [f.id for f in default_scenario(2).flats]


@pytest.mark.parametrize(
    ("name", "columns"),
    [
        ("flats.csv", ["flat_id", "area_m2", "position_factor"]),
        ("climate.csv", ["time", "flat_id", "temperature_c", "humidity_pct", "co2_ppm"]),
        ("weather.csv", ["time", "temperature_c"]),
        ("truth.csv", ["flat_id", "radiator_kwh", "from_neighbours_kwh", "window_open_h",
                       "mean_air_change_h", "gains_kwh", "envelope_loss_kwh",
                       "ventilation_loss_kwh", "stored_kwh", "hours", "mean_temperature_c"]),
        (surface_name(FLAT_IDS[0]), ["time", "temperature_c", "humidity_pct"]),
        (surface_name(FLAT_IDS[1]), ["time", "temperature_c", "humidity_pct"]),
    ],
)  # fmt: skip
def test_each_file_has_its_columns(sim: Simulated, name: str, columns: list[str]) -> None:
    assert sim.code == 0, sim.stderr
    header = list(read(sim.out / name).columns)
    assert [c for c in columns if c not in header] == []
    assert header[: len(columns)] == columns or name == "truth.csv"


def test_exactly_these_files_are_written(sim: Simulated) -> None:
    assert sorted(p.name for p in sim.out.iterdir()) == sorted(
        ["flats.csv", "climate.csv", "weather.csv", "truth.csv", "registry.json"]
        + [f"surface_{f}.csv" for f in FLAT_IDS]
    )


def test_flats_file_is_the_scenario(sim: Simulated) -> None:
    flats = read(sim.out / "flats.csv")
    scenario = default_scenario(2)
    assert flats["flat_id"].tolist() == FLAT_IDS
    assert flats["area_m2"].tolist() == [f.area_m2 for f in scenario.flats]
    assert flats["position_factor"].tolist() == [f.position_factor for f in scenario.flats]


def test_climate_every_5_minutes_per_flat_in_utc_with_z(sim: Simulated) -> None:
    climate = read(sim.out / "climate.csv")
    assert len(climate) == 2 * RECORDS
    expected = pd.date_range(START + timedelta(minutes=5), END, freq="5min")
    for flat in FLAT_IDS:
        rows = climate[climate["flat_id"] == flat]
        assert rows["time"].str.endswith("Z").all()
        assert pd.DatetimeIndex(pd.to_datetime(rows["time"], utc=True)).equals(expected)
    weather = read(sim.out / "weather.csv")
    assert pd.DatetimeIndex(pd.to_datetime(weather["time"], utc=True)).equals(expected)
    for name in FLAT_IDS:
        assert len(read(sim.out / surface_name(name))) == RECORDS


def test_files_hold_what_the_simulator_computes_for_that_seed(sim: Simulated) -> None:
    reference = run(default_scenario(2), START, END, seed=SEED)
    truth = read(sim.out / "truth.csv").set_index("flat_id")
    for column in ("radiator_kwh", "from_neighbours_kwh", "window_open_h", "mean_air_change_h"):
        np.testing.assert_allclose(truth[column], reference.totals[column], atol=1e-4)
    climate = read(sim.out / "climate.csv")
    np.testing.assert_allclose(
        climate["temperature_c"], reference.flats["temperature_c"], atol=1e-3
    )
    np.testing.assert_allclose(climate["co2_ppm"], reference.flats["co2_ppm"], atol=0.05)
    first = reference.flats[reference.flats["flat"] == FLAT_IDS[0]]
    surface = read(sim.out / surface_name(FLAT_IDS[0]))
    np.testing.assert_allclose(surface["humidity_pct"], first["surface_humidity_pct"], atol=0.005)


def test_truth_energy_balance_closes(sim: Simulated) -> None:
    t = read(sim.out / "truth.csv")
    heat_in = t.radiator_kwh + t.gains_kwh + t.from_neighbours_kwh
    heat_out = t.envelope_loss_kwh + t.ventilation_loss_kwh + t.stored_kwh
    np.testing.assert_allclose(heat_in, heat_out, atol=1e-3)
    assert (t.radiator_kwh > 0).all() and (t.hours == 24).all()


def test_registry_json_is_a_valid_registry(sim: Simulated) -> None:
    registry = Registry.load(sim.out / "registry.json")
    assert registry.building("B1").flat_ids == frozenset(FLAT_IDS)
    assert all(registry.serves("gw-b1", "B1", f) for f in FLAT_IDS)


def test_progress_on_stderr_and_summary_on_stdout(sim: Simulated) -> None:
    assert "[simulate]" in sim.stderr and "100%" in sim.stderr
    for name in ("flats.csv", "climate.csv", "weather.csv", "truth.csv", "registry.json"):
        assert name in sim.stdout
    assert "--period 2026-01" in sim.stdout  # the settle command to run next


def test_settle_accepts_the_files_and_splits_the_whole_cost(sim: Simulated) -> None:
    result = sim.out.parent / "settlement.csv"
    argv = ["settle", "--flats", str(sim.out / "flats.csv"), "--climate",
            str(sim.out / "climate.csv"), "--weather", str(sim.out / "weather.csv"),
            "--total-cost", "98765.43", "--period", "2026-01", "--out", str(result),
            "--statement-date", "2026-02-15", "--building-id", "B1"]  # fmt: skip
    code, _out, err = call(argv)
    assert code == 0, err
    frame = pd.read_csv(result, sep=";", decimal=",", encoding="utf-8-sig")
    assert frame["flat_id"].tolist() == FLAT_IDS
    assert round(frame["amount_dkk"].sum() * 100) == 9_876_543
    assert (frame["amount_dkk"] > 0).all()


@pytest.mark.parametrize("flat", FLAT_IDS)
def test_mould_index_gives_one_row_per_surface_row(sim: Simulated, flat: str) -> None:
    surface = sim.out / surface_name(flat)
    code, out, err = call(["mould-index", str(surface)])
    assert code == 0, err
    index = pd.read_csv(io.StringIO(out), dtype={"time": str})
    assert index["time"].tolist() == read(surface)["time"].tolist()
    assert index["mould_index"].between(0, 6).all()


def test_chunked_run_equals_one_long_run() -> None:
    """Progress is reported per chunk (a day in the CLI); chunking must not change the result."""
    scenario = default_scenario(2)
    end = START + timedelta(hours=3, minutes=20)
    seen: list[float] = []
    chunked = simulate(
        scenario, START, end, seed=5, chunk=timedelta(hours=1), progress=lambda t, f: seen.append(f)
    )
    whole = run(scenario, START, end, seed=5)
    assert seen == pytest.approx([0.3, 0.6, 0.9, 1.0])
    pd.testing.assert_frame_equal(chunked.flats, whole.flats)
    pd.testing.assert_frame_equal(chunked.weather, whole.weather)
    pd.testing.assert_frame_equal(chunked.totals, whole.totals)


def test_scenario_file_sets_the_flats(tmp_path: Path) -> None:
    shipped = resources.files("firmware_sim").joinpath("default_scenario.toml")
    scenario_file = tmp_path / "building.toml"
    with resources.as_file(shipped) as source:
        shutil.copy(source, scenario_file)
    argv = ["simulate", "--scenario", str(scenario_file), "--start", "2026-01-10"]
    code, _out, err = call([*argv, "--days", "0.1", "--out", str(tmp_path / "o")])
    assert code == 0, err
    flats = read(tmp_path / "o" / "flats.csv")
    assert flats["flat_id"].tolist() == [f.id for f in default_scenario().flats]
    assert len(read(tmp_path / "o" / "climate.csv")) == 12 * 28  # 2.4 h at 5 min


T = datetime(2026, 1, 10, 13, 47, 12, tzinfo=UTC)
HOUR = datetime(2026, 1, 10, 13, tzinfo=UTC)
S = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "start", "end", "days", "expected"),
    [
        ("default: 7 days ending now, floored to the hour", None, None, None,
         (HOUR - timedelta(days=7), HOUR)),
        ("days only: ending now", None, None, 2.5, (HOUR - timedelta(days=2.5), HOUR)),
        ("start and end", S, S + timedelta(days=3), None, (S, S + timedelta(days=3))),
        ("start and days", S, None, 1.0, (S, S + timedelta(days=1))),
        ("end and days", None, S, 1.0, (S - timedelta(days=1), S)),
        ("end only: 7 days before it", None, S, None, (S - timedelta(days=7), S)),
        ("start only: until now", S, None, None, (S, HOUR)),
    ],
)  # fmt: skip
def test_period_from_any_two_of_start_end_days(
    name: str,
    start: datetime | None,
    end: datetime | None,
    days: float | None,
    expected: tuple[datetime, datetime],
) -> None:
    assert resolve_period(T, start, end, days) == expected, name


@pytest.mark.parametrize(
    ("start", "end", "days", "message"),
    [
        (S, S + timedelta(days=1), 1.0, "højst to af"),
        (S, S, None, "mindst en time"),
        (S, S - timedelta(days=1), None, "mindst en time"),
        (S, None, 5000.0, "over 3660 døgn"),
    ],
)
def test_impossible_periods_are_refused(
    start: datetime, end: datetime | None, days: float | None, message: str
) -> None:
    with pytest.raises(SimulateError, match=message):
        resolve_period(T, start, end, days)


@pytest.mark.parametrize(
    ("start", "end", "period"),
    [
        (S, S + timedelta(days=31), "2026-01"),
        (S - timedelta(days=1), S + timedelta(days=1), "2025-12..2026-01"),
        (S, S + timedelta(days=32), "2026-01..2026-02"),
    ],
)
def test_settle_period_covers_the_simulation(start: datetime, end: datetime, period: str) -> None:
    assert settle_period(start, end) == period


@pytest.mark.parametrize(
    ("name", "args", "danish", "english"),
    [
        ("zero days", ["--days", "0"], "antal døgn", "days must be"),
        ("days not a number", ["--days", "en uge"], "antal døgn", "days must be"),
        ("zero flats", ["--flats", "0"], "antal lejligheder", "number of flats"),
        ("too many flats", ["--flats", "10001"], "antal lejligheder", "number of flats"),
        ("negative seed", ["--seed", "-1"], "seed skal", "whole number >= 0"),
        ("time without zone", ["--start", "2026-01-10T06:00"], "tidszone", "no zone"),
        ("not a time", ["--start", "i går"], "ISO 8601", "ISO 8601"),
        ("end before start", ["--start", "2026-01-10", "--end", "2026-01-09"],
         "mindst en time", "at least an hour"),
        ("all three of start, end, days",
         ["--start", "2026-01-10", "--end", "2026-01-11", "--days", "1"], "højst to", "at most"),
        ("flats and scenario", ["--flats", "3", "--scenario", "b.toml", "--days", "1"],
         "kan ikke bruges sammen", "cannot be combined"),
        ("missing scenario file", ["--scenario", "nowhere.toml", "--days", "1"],
         "scenariet kan ikke bruges", "not found"),
        ("negative warm-up", ["--warm-up-days", "-1", "--days", "1"],
         "indsvingning", "warm-up must"),
    ],
)  # fmt: skip
def test_bad_arguments_get_a_danish_then_english_error(
    tmp_path: Path, name: str, args: list[str], danish: str, english: str
) -> None:
    code, out, err = call(["simulate", *args, "--out", str(tmp_path / "o")])
    assert code == 2, name
    assert danish in err and english in err, err
    assert err.index(danish) < err.index(english) or danish == english
    assert out == ""
    assert not (tmp_path / "o" / "climate.csv").exists()


def test_help_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cloud.cli", "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for flag in ("--flats", "--days", "--start", "--end", "--seed", "--scenario", "--out"):
        assert flag in done.stdout
