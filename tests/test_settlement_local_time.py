"""Issue 13: periods are Danish calendar months (Europe/Copenhagen) everywhere.

Settlement, statements, exports, heat-share estimates and the comfort index agree; March (743 h)
and October (745 h) settle; times may carry any offset or ``Z``; naive times are refused with the
fix; statements name the local dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cloud.analytics.comfort import monthly_index
from cloud.settlement.deadline import statement_deadline
from cloud.settlement.estimate import running_estimate, truncate
from cloud.settlement.model import FlatInfo, SettlementInputs
from cloud.settlement.periods import (
    current_month,
    first_and_last_day,
    local_hours,
    month_label,
    parse_period,
    period_label,
)
from cloud.settlement.series import ClimateSeries, WeatherSeries
from cloud.settlement.tariff import default_tariff
from tests.settle_files import local_times, pdf_text, read_out, settle, write_files

FLATS = {"0101": 21.0, "0102": 23.0}


@pytest.mark.parametrize(
    ("text", "start", "end", "hours"),
    [
        ("2026-01", "2025-12-31T23:00", "2026-01-31T23:00", 744),
        ("2026-03", "2026-02-28T23:00", "2026-03-31T22:00", 743),  # summer time starts 29 March
        ("2026-10", "2026-09-30T22:00", "2026-10-31T23:00", 745),  # summer time ends 25 October
        ("2026-11", "2026-10-31T23:00", "2026-11-30T23:00", 720),
        ("2025-10..2026-04", "2025-09-30T22:00", "2026-04-30T22:00", 5088),
    ],
)
def test_periods_are_local_calendar_months(text: str, start: str, end: str, hours: int) -> None:
    s, e = parse_period(text)
    assert (s, e) == (
        datetime.fromisoformat(start).replace(tzinfo=UTC),
        datetime.fromisoformat(end).replace(tzinfo=UTC),
    )
    assert (e - s) / timedelta(hours=1) == hours
    assert period_label(s, e) == text
    first, last = first_and_last_day(s, e)
    assert first.day == 1 and (last + timedelta(days=1)).day == 1


@pytest.mark.parametrize(
    ("period", "hours", "first", "last", "step_min"),
    [
        ("2026-03", 743, "2026-03-01", "2026-03-31", 60),
        ("2026-03", 743, "2026-03-01", "2026-03-31", 5),
        ("2026-10", 745, "2026-10-01", "2026-10-31", 60),
        ("2026-01", 744, "2026-01-01", "2026-01-31", 60),
    ],
)
def test_dst_months_settle_from_local_times_through_the_cli(
    tmp_path: Path, period: str, hours: int, first: str, last: str, step_min: int
) -> None:
    year, month = map(int, period.split("-"))
    files = write_files(tmp_path, year, month, FLATS, step_min=step_min)
    assert "+01:00" in files.climate.read_text() and (
        "+02:00" in files.climate.read_text() or month == 1
    )
    out, pdfs = tmp_path / "out.csv", tmp_path / "pdf"
    done = settle(files, out, period, "--pdf-dir", str(pdfs))
    assert done.returncode == 0, done.stderr
    assert f"x {hours} h" in done.stderr
    assert "weather_interpolated" not in done.stdout  # the window is exactly the data's
    rows = read_out(out)
    assert [r["coverage_pct"] for r in rows] == ["100,0", "100,0"]  # every local hour measured
    assert sum(int(r["amount_dkk"].replace(",", "")) for r in rows) == 10_000_000
    for path in pdfs.iterdir():
        text = pdf_text(path)
        assert f"{first} til {last}" in text, text


def test_any_offset_or_z_gives_the_same_settlement(tmp_path: Path) -> None:
    files = write_files(tmp_path / "local", 2026, 10, FLATS)
    assert settle(files, tmp_path / "local.csv", "2026-10").returncode == 0
    frame = pd.read_csv(files.climate, sep=";", dtype=str, encoding="utf-8-sig")
    utc = pd.to_datetime(frame["time"], utc=True)
    variants = {
        "z": utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "plus0000": utc.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "compact": utc.dt.tz_convert("Europe/Copenhagen").dt.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for name, times in variants.items():
        frame.assign(time=times).to_csv(files.climate, sep=";", index=False)
        out = tmp_path / f"{name}.csv"
        done = settle(files, out, "2026-10")
        assert done.returncode == 0, (name, done.stderr)
        assert out.read_bytes() == (tmp_path / "local.csv").read_bytes(), name


@pytest.mark.parametrize("target", ["climate", "weather"])
def test_naive_times_are_refused_with_the_fix(tmp_path: Path, target: str) -> None:
    files = write_files(tmp_path, 2026, 3, FLATS)
    path = getattr(files, target)
    path.write_text(path.read_text(encoding="utf-8-sig").replace("+01:00", ""), encoding="utf-8")
    done = settle(files, tmp_path / "out.csv", "2026-03")
    assert done.returncode == 2
    assert "ingen tidszone" in done.stderr and "+02:00" in done.stderr and " Z " in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.csv").exists()


def _inputs(year: int, month: int) -> SettlementInputs:
    start, end = parse_period(f"{year}-{month:02d}")
    hours = int((end - start) / timedelta(hours=1))
    t = np.vstack([np.full(hours, 21.0), np.full(hours, 23.0)])
    climate = ClimateSeries(("A", "B"), start, 3600, t, np.full_like(t, 45.0), np.full_like(t, 700))
    return SettlementInputs(
        "B1",
        start,
        end,
        100_000,
        (FlatInfo("A", 60.0), FlatInfo("B", 60.0)),
        climate,
        WeatherSeries(start, 3600, np.full(hours, 2.0)),
        default_tariff(),
        date(2026, 12, 1),
    )


@pytest.mark.parametrize(
    "now",
    [
        "2026-03-31T21:59:00+00:00",  # 23:59 local on 31 March: still March
        "2026-03-31T22:00:00+00:00",  # local midnight: April
        "2026-10-31T22:30:00+00:00",  # 23:30 local on 31 October: still October
        "2026-10-31T23:00:00+00:00",  # local midnight: November
        "2025-12-31T23:30:00+00:00",  # 00:30 local on 1 January 2026
    ],
)
def test_estimates_and_the_comfort_index_use_the_same_month(now: str) -> None:
    t = datetime.fromisoformat(now)
    start, end = current_month(t)
    assert start <= t < end
    frame = pd.DataFrame(
        {"time": [pd.Timestamp(t)], "flat": ["A"], "temperature_c": [21.0], "co2_ppm": [600.0]}
    )
    assert monthly_index(frame)["month"].tolist() == [month_label(t)]
    assert period_label(start, end) == month_label(t)


def test_running_estimate_cuts_at_local_midnight_and_settles_a_dst_month() -> None:
    inputs = _inputs(2026, 3)
    as_of = datetime(2026, 3, 29, 12, tzinfo=UTC)  # the day summer time starts (23 h)
    cut = truncate(inputs, as_of)
    assert cut.period_end == datetime(2026, 3, 28, 23, tzinfo=UTC)  # 00:00 local, 29 March
    assert local_hours(cut.period_start, 28 * 24).day[-1] == 27
    estimates = running_estimate(inputs, datetime(2026, 4, 2, tzinfo=UTC))
    assert sum(e.estimated_ore for e in estimates) == 100_000
    assert [e.coverage_pct for e in estimates] == [100.0, 100.0]


def test_comfort_index_counts_the_same_hours_as_the_settlement() -> None:
    times = pd.to_datetime(local_times(2026, 10), utc=True)
    frame = pd.DataFrame({"time": times, "flat": "A", "temperature_c": 21.0, "humidity_pct": 45.0})
    index = monthly_index(frame)
    assert index[["month", "intervals"]].values.tolist() == [["2026-10", 745]]


@pytest.mark.parametrize(
    ("period", "year_end_month", "deadline"),
    [
        ("2025-10..2026-04", None, date(2026, 8, 31)),
        ("2026-03", None, date(2026, 7, 31)),
        ("2026-03", 6, date(2026, 10, 31)),  # accounting year ends 30 June
        ("2026-08", 6, date(2027, 10, 31)),
        ("2026-12", 12, date(2027, 4, 30)),
    ],
)
def test_statement_deadline_is_four_months_after_the_accounting_year(
    period: str, year_end_month: int | None, deadline: date
) -> None:
    start, end = parse_period(period)
    assert statement_deadline(start, end, year_end_month) == deadline
