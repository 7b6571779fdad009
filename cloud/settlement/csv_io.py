"""Reading the settlement's input CSVs (thin I/O; errors in Danish, then English).

FLATS.csv     ``flat_id,area_m2`` + optional ``position_factor,aconto_dkk,monthly_rent_dkk,
              hca_units,previous_amount_dkk``
CLIMATE.csv   ``time,flat_id,temperature_c,humidity_pct,co2_ppm`` + optional
              ``window_open_pct``; 5-minute or hourly; times ISO 8601 with a zone (``Z``)
WEATHER.csv   ``time,temperature_c``

Files may be comma-separated with a decimal point or semicolon-separated with a decimal comma
(Danish spreadsheets); the header line decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cloud.settlement.model import FlatInfo
from cloud.settlement.money import MoneyError, to_ore
from cloud.settlement.series import ClimateSeries, WeatherSeries


class InputError(ValueError):
    """An input file cannot be used; the message names the file, the row and the fix."""


def _err(da: str, en: str) -> InputError:
    return InputError(f"{da} / {en}")


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``2026-01`` or ``2025-10..2026-04`` (inclusive months) -> [start, end) in UTC."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?", text.strip())
    if not m or not 1 <= int(m[2]) <= 12 or (m[4] and not 1 <= int(m[4]) <= 12):
        raise _err(
            f"perioden {text!r} skal skrives ÅÅÅÅ-MM eller ÅÅÅÅ-MM..ÅÅÅÅ-MM",
            f"period {text!r} must be YYYY-MM or YYYY-MM..YYYY-MM",
        )
    start = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)
    last_y, last_m = (int(m[3]), int(m[4])) if m[3] else (int(m[1]), int(m[2]))
    y, mo = divmod(last_m, 12)
    end = datetime(last_y + y, mo + 1, 1, tzinfo=UTC)
    if end <= start:
        raise _err(f"perioden {text!r} slutter før den starter", f"period {text!r} ends first")
    return start, end


def _read(path: Path, required: Iterable[str], what: str, *, text: bool = False) -> pd.DataFrame:
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
    except OSError as exc:
        raise _err(f"kan ikke læse {what} {path}: {exc}", f"cannot read {what} {path}") from exc
    sep, decimal = (";", ",") if ";" in header else (",", ".")
    try:
        df = pd.read_csv(
            path, sep=sep, decimal=decimal, encoding="utf-8-sig", dtype=str if text else {0: str}
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise _err(f"{path} er ikke en gyldig CSV: {exc}", f"{path} is not valid CSV") from exc
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise _err(
            f"{path} mangler kolonnen/kolonnerne {missing}; forventet {list(required)}",
            f"{path} lacks column(s) {missing}; expected {list(required)}",
        )
    return df


def _numeric(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    raw = df[col]
    if raw.dtype == object:
        raw = raw.str.strip().str.replace(",", ".", regex=False)
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & df[col].notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy())) + 2
        raise _err(
            f"{path} linje {row}: {col}={df[col].iloc[row - 2]!r} er ikke et tal",
            f"{path} line {row}: {col} is not a number",
        )
    return values


def _times(df: pd.DataFrame, path: Path) -> pd.Series:
    try:
        t = pd.to_datetime(df["time"], utc=False, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise _err(
            f"{path}: kolonnen time skal være ISO 8601 med tidszone, fx 2026-01-01T00:00:00Z",
            f"{path}: column time must be ISO 8601 with a zone, e.g. 2026-01-01T00:00:00Z",
        ) from exc
    if t.dt.tz is None:
        raise _err(
            f"{path}: tidspunkter uden tidszone – tilføj Z (UTC) eller +01:00",
            f"{path}: times without a time zone – add Z (UTC) or +01:00",
        )
    return t.dt.tz_convert("UTC")


def read_flats(path: Path) -> tuple[FlatInfo, ...]:
    df = _read(path, ("flat_id", "area_m2"), "lejlighedsfil/flats file", text=True)
    optional_money = ("aconto_dkk", "monthly_rent_dkk", "previous_amount_dkk")
    num = {
        c: _numeric(df, c, path)
        for c in ("area_m2", "position_factor", "hca_units")
        if c in df.columns
    }
    flats = []
    for i, row in df.iterrows():
        line = int(str(i)) + 2
        money: dict[str, int | None] = {}
        for c in optional_money:
            raw = row.get(c)
            if raw is None or not isinstance(raw, str) or not raw.strip():
                money[c] = None
                continue
            try:
                money[c] = to_ore(str(raw))
            except MoneyError as exc:
                raise _err(f"{path} linje {line}: {c}: {exc}", f"{path} line {line}") from exc
        pf = num["position_factor"].iloc[line - 2] if "position_factor" in num else np.nan
        hca = num["hca_units"].iloc[line - 2] if "hca_units" in num else np.nan
        try:
            flats.append(
                FlatInfo(
                    flat_id=str(row["flat_id"]).strip(),
                    area_m2=float(num["area_m2"].iloc[line - 2]),
                    position_factor=1.0 if np.isnan(pf) else float(pf),
                    aconto_ore=money["aconto_dkk"] or 0,
                    monthly_rent_ore=money["monthly_rent_dkk"],
                    hca_units=None if np.isnan(hca) else float(hca),
                    previous_amount_ore=money["previous_amount_dkk"],
                )
            )
        except ValueError as exc:
            raise _err(f"{path} linje {line}: {exc}", f"{path} line {line}: {exc}") from exc
    ids = [f.flat_id for f in flats]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise _err(f"{path}: lejligheder optræder to gange: {dupes}", f"duplicate flats {dupes}")
    return tuple(flats)


def _grid(t: pd.Series, start: datetime, end: datetime) -> tuple[int, np.ndarray, np.ndarray]:
    secs = (t - pd.Timestamp(start)).dt.total_seconds().to_numpy()
    inside = (secs >= 0) & (secs < (end - start).total_seconds())
    step = 3600 if np.all(secs[inside] % 3600 == 0) else 300
    return step, inside, (secs // step).astype(np.int64)


def read_climate(
    path: Path, flat_ids: tuple[str, ...], start: datetime, end: datetime
) -> ClimateSeries:
    cols = ("time", "flat_id", "temperature_c", "humidity_pct", "co2_ppm")
    df = _read(path, cols, "klimafil/climate file")
    df["time"] = _times(df, path)
    for q in ("temperature_c", "humidity_pct", "co2_ppm", "window_open_pct"):
        if q in df.columns:
            df[q] = _numeric(df, q, path)
    try:
        return climate_from_frame(df, flat_ids, start, end)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc


def climate_from_frame(
    df: pd.DataFrame, flat_ids: tuple[str, ...], start: datetime, end: datetime
) -> ClimateSeries:
    """A long frame (``time`` UTC, ``flat_id``, quantities; optional ``window_open_pct``) on the
    period's grid: hourly when every time is on the hour, else 5-minute (samples averaged)."""
    t = pd.to_datetime(df["time"], utc=True)
    step, inside, col = _grid(t, start, end)
    steps = int((end - start).total_seconds()) // step
    index = {f: i for i, f in enumerate(flat_ids)}
    row = df["flat_id"].astype(str).str.strip().map(index).to_numpy(dtype=float)
    keep = inside & ~np.isnan(row)
    unknown = sorted(set(df.loc[inside & np.isnan(row), "flat_id"].astype(str)))
    if unknown:
        raise _err(
            f"klimadata for lejligheder der ikke er i lejlighedsfilen: {unknown[:5]}",
            f"climate for flats not in the flats file: {unknown[:5]} – add or remove them",
        )
    r, c = row[keep].astype(np.int64), col[keep]
    quantities = ["temperature_c", "humidity_pct", "co2_ppm"]
    if "window_open_pct" in df.columns:
        quantities.append("window_open_pct")
    mats = []
    for q in quantities:
        v = pd.to_numeric(df[q], errors="coerce").to_numpy(dtype=float)[keep]
        ok = ~np.isnan(v)
        total = np.zeros((len(flat_ids), steps))
        count = np.zeros((len(flat_ids), steps))
        np.add.at(total, (r[ok], c[ok]), v[ok])
        np.add.at(count, (r[ok], c[ok]), 1.0)
        m = np.full((len(flat_ids), steps), np.nan)
        np.divide(total, count, out=m, where=count > 0)
        mats.append(m)
    window = mats[3] if len(mats) > 3 else None
    return ClimateSeries(flat_ids, start, step, mats[0], mats[1], mats[2], window)


def read_weather(path: Path, start: datetime, end: datetime) -> WeatherSeries:
    df = _read(path, ("time", "temperature_c"), "vejrfil/weather file")
    t = _times(df, path)
    secs = (t - pd.Timestamp(start)).dt.total_seconds().to_numpy()
    hours = int((end - start).total_seconds()) // 3600
    col = np.floor(secs / 3600).astype(np.int64)
    v = _numeric(df, "temperature_c", path).to_numpy()
    keep = (col >= 0) & (col < hours) & ~np.isnan(v)
    total = np.bincount(col[keep], weights=v[keep], minlength=hours)
    count = np.bincount(col[keep], minlength=hours)
    te = np.full(hours, np.nan)
    np.divide(total, count, out=te, where=count > 0)
    if not keep.any():
        raise _err(
            f"{path}: ingen udetemperaturer i perioden {start:%Y-%m-%d}–{end:%Y-%m-%d}",
            f"{path}: no outdoor temperatures in the period – check the file's dates",
        )
    return WeatherSeries(start, 3600, te)
