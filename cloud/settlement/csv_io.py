"""Reading the settlement's input CSVs (thin I/O; errors in Danish, then English).

FLATS.csv     ``flat_id,area_m2`` + optional ``position_factor,aconto_dkk,monthly_rent_dkk,
              hca_units,previous_amount_dkk``
CLIMATE.csv   ``time,flat_id,temperature_c`` + optional ``humidity_pct,co2_ppm,window_open_pct``
              (sensors without CO2: leave the column out or empty); 5-minute or hourly; times
              ISO 8601 with any zone (``Z``, ``+01:00``, ``+02:00`` across summer time)
WEATHER.csv   ``time,temperature_c``

Files may be comma- or semicolon-separated (Danish spreadsheets); the header line decides. Every
cell is read as text: ids stay as written (``0101``, ``1,10``, ``Østergade 1/2 th``). Amounts and
areas are read by the one rule of :mod:`cloud.settlement.numbers` (``250.000,00``; an ambiguous
``1.000`` is refused); so are measurements in a semicolon file, while measurements in a comma
file (machine exports) have a decimal point (``20.676``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cloud.settlement import periods
from cloud.settlement.model import FlatInfo
from cloud.settlement.money import MoneyError, to_ore
from cloud.settlement.numbers import NumberError, parse_float
from cloud.settlement.series import ClimateSeries, WeatherSeries
from edge.wire import normalise_flat_id


class InputError(ValueError):
    """An input file cannot be used; the message names the file, the row and the fix."""


def _err(da: str, en: str) -> InputError:
    return InputError(f"{da} / {en}")


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``2026-03`` or ``2025-10..2026-04`` (inclusive local months) -> UTC ``[start, end)``.

    Months are Danish calendar months (Europe/Copenhagen), see :mod:`cloud.settlement.periods`.
    """
    try:
        return periods.parse_period(text)
    except periods.PeriodError as exc:
        raise InputError(str(exc)) from exc


def _read(path: Path, required: Iterable[str], what: str) -> pd.DataFrame:
    """The file with every cell as text (no numeric guessing: ids keep leading zeros)."""
    try:
        with path.open(encoding="utf-8-sig") as fh:
            header = fh.readline()
    except OSError as exc:
        raise _err(f"kan ikke læse {what} {path}: {exc}", f"cannot read {what} {path}") from exc
    sep = ";" if ";" in header else ","
    try:
        df = pd.read_csv(
            path, sep=sep, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_filter=False
        )
    except (ValueError, pd.errors.ParserError) as exc:
        raise _err(f"{path} er ikke en gyldig CSV: {exc}", f"{path} is not valid CSV") from exc
    df.columns = [str(c).strip() for c in df.columns]
    df.attrs["sep"] = sep
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise _err(
            f"{path} mangler kolonnen/kolonnerne {missing}; forventet {list(required)}",
            f"{path} lacks column(s) {missing}; expected {list(required)}",
        )
    return df


def _numeric(df: pd.DataFrame, col: str, path: Path, *, measurement: bool = False) -> pd.Series:
    """A text column as floats; empty cells are NaN (missing).

    Measurements (temperature, humidity, CO2, window) in a comma-separated file are machine
    exports with a decimal point (``20.676``): there ``.`` cannot be a thousands separator.
    Everything else — amounts, areas, and every column of a semicolon-separated (Danish
    spreadsheet) file — follows the one number rule of :mod:`cloud.settlement.numbers`."""
    raw = df[col].astype(str).str.strip()
    if measurement and df.attrs.get("sep") == ",":
        values = pd.to_numeric(raw.where(raw != ""), errors="coerce")
        bad = values.isna() & (raw != "")
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + 2
            raise _err(
                f"{path} linje {row}: {col}={raw.iloc[row - 2]!r} er ikke et tal (decimalpunktum "
                "i en kommasepareret fil)",
                f"{path} line {row}: {col} is not a number (decimal point in a comma-separated "
                "file)",
            )
        return values.astype(float)
    parsed: dict[str, float] = {"": np.nan}
    for value in pd.unique(raw):
        if value in parsed:
            continue
        try:
            parsed[value] = parse_float(value)
        except NumberError as exc:
            row = int(np.argmax((raw == value).to_numpy())) + 2
            raise _err(
                f"{path} linje {row}: {col}={value!r} kan ikke læses: {exc}",
                f"{path} line {row}: {col} cannot be read",
            ) from exc
    return raw.map(parsed).astype(float)


_ZONE = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _times(df: pd.DataFrame, path: Path) -> pd.Series:
    """ISO 8601 times with any zone or offset (``Z``, ``+01:00``, ``+02:00``) -> UTC.

    A time without a zone is refused: local clock times repeat at the end of summer time, so
    they cannot be placed without guessing."""
    text = df["time"].astype(str).str.strip()
    naive = ~text.str.contains(_ZONE, regex=True)
    if naive.any():
        row = int(np.argmax(naive.to_numpy())) + 2
        raise _err(
            f"{path} linje {row}: tidspunktet {text.iloc[row - 2]!r} har ingen tidszone – "
            "tilføj Z for UTC eller dansk tids forskydning (+01:00 vintertid, +02:00 sommertid), "
            "fx 2026-03-29T03:00:00+02:00",
            f"{path} line {row}: time without a time zone - add Z (UTC) or the Danish offset "
            "(+01:00 winter, +02:00 summer), e.g. 2026-03-29T03:00:00+02:00",
        )
    try:
        t = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise _err(
            f"{path}: kolonnen time skal være ISO 8601 med tidszone, fx 2026-01-01T00:00:00Z "
            f"({exc})",
            f"{path}: column time must be ISO 8601 with a zone, e.g. 2026-01-01T00:00:00Z",
        ) from exc
    return t


def _text(row: pd.Series, col: str) -> str:
    value = row.get(col)
    return value.strip() if isinstance(value, str) else ""


def read_flats(path: Path) -> tuple[FlatInfo, ...]:
    df = _read(path, ("flat_id", "area_m2"), "lejlighedsfil/flats file")
    optional_money = ("aconto_dkk", "monthly_rent_dkk", "previous_amount_dkk")
    flats = []
    for i, row in df.iterrows():
        line = int(str(i)) + 2
        money: dict[str, int | None] = {}
        number: dict[str, float | None] = {}
        col = ""
        try:
            for col in optional_money:
                text = _text(row, col)
                money[col] = to_ore(text) if text else None
            for col in ("area_m2", "position_factor", "hca_units"):
                text = _text(row, col)
                number[col] = parse_float(text) if text else None
        except (MoneyError, NumberError) as exc:
            raise _err(f"{path} linje {line}: {col}: {exc}", f"{path} line {line}: {col}") from exc
        flat_id = _text(row, "flat_id")
        if not flat_id:
            raise _err(f"{path} linje {line}: flat_id er tom", f"{path} line {line}: empty flat_id")
        try:
            flat_id = normalise_flat_id(flat_id)  # the registry's rule (edge.wire)
        except ValueError as exc:
            raise InputError(f"{path} linje/line {line}: {exc}") from None
        area = number["area_m2"]
        if area is None:
            raise _err(f"{path} linje {line}: area_m2 er tom", f"{path} line {line}: empty area")
        try:
            flats.append(
                FlatInfo(
                    flat_id=flat_id,
                    area_m2=area,
                    position_factor=number["position_factor"] or 1.0,
                    aconto_ore=money["aconto_dkk"] or 0,
                    monthly_rent_ore=money["monthly_rent_dkk"],
                    hca_units=number["hca_units"],
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
    cols = ("time", "flat_id", "temperature_c")
    df = _read(path, cols, "klimafil/climate file")
    df["time"] = _times(df, path)
    for q in ("temperature_c", "humidity_pct", "co2_ppm", "window_open_pct"):
        if q in df.columns:
            df[q] = _numeric(df, q, path, measurement=True)
        elif q != "window_open_pct":
            df[q] = np.nan  # sensors without CO2 (or humidity): not measured, never zero
    try:
        return climate_from_frame(df, flat_ids, start, end)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc


def climate_from_frame(
    df: pd.DataFrame, flat_ids: tuple[str, ...], start: datetime, end: datetime
) -> ClimateSeries:
    """A long frame (``time`` UTC, ``flat_id`` as text, quantities; optional
    ``window_open_pct``) on the period's grid: hourly when every time is on the hour, else
    5-minute (samples averaged). A missing quantity column is not measured (NaN)."""
    t = pd.to_datetime(df["time"], utc=True)
    step, inside, col = _grid(t, start, end)
    steps = int((end - start).total_seconds()) // step
    index = {f: i for i, f in enumerate(flat_ids)}
    ids = df["flat_id"].astype(str).str.strip().str.normalize("NFC")  # as read_flats
    row = ids.map(index).to_numpy(dtype=float)
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
        if q not in df.columns:
            v = np.full(int(keep.sum()), np.nan)
        else:
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
    v = _numeric(df, "temperature_c", path, measurement=True).to_numpy()
    keep = (col >= 0) & (col < hours) & ~np.isnan(v)
    total = np.bincount(col[keep], weights=v[keep], minlength=hours)
    count = np.bincount(col[keep], minlength=hours)
    te = np.full(hours, np.nan)
    np.divide(total, count, out=te, where=count > 0)
    if not keep.any():
        raise _err(
            f"{path}: ingen udetemperaturer i perioden {periods.period_label(start, end)}",
            f"{path}: no outdoor temperatures in the period – check the file's dates",
        )
    return WeatherSeries(start, 3600, te)
