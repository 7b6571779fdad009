"""Input files as a Danish housing office writes them, and the real ``indeklima settle`` command.

Shared by the issue-13 settlement tests: local times with ``+01:00``/``+02:00`` offsets, ``;``
files with a BOM, ids as text, optional humidity and CO2 columns.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pypdf

from cloud.settlement.periods import LOCAL_TZ_NAME, month_bounds

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Files:
    flats: Path
    climate: Path
    weather: Path


def local_times(year: int, month: int, step_min: int = 60) -> list[str]:
    """Every sample time of the Danish month, written in local time with its offset."""
    start, end = month_bounds(year, month)
    utc = pd.date_range(start, end, freq=f"{step_min}min", inclusive="left")
    return [t.isoformat() for t in utc.tz_convert(LOCAL_TZ_NAME)]


def write_files(
    folder: Path,
    year: int,
    month: int,
    indoor_c: Mapping[str, float],
    *,
    flats_rows: Sequence[Mapping[str, str]] | None = None,
    step_min: int = 60,
    humidity: bool = True,
    co2: bool = True,
    empty: bool = False,
) -> Files:
    """Flats (``;``, BOM), climate and weather files for one local month.

    ``indoor_c`` maps each flat id (any text) to its constant indoor temperature; with
    ``empty`` the climate file has its header but no rows."""
    folder.mkdir(parents=True, exist_ok=True)
    files = Files(folder / "flats.csv", folder / "climate.csv", folder / "weather.csv")
    rows = flats_rows or [{"flat_id": f, "area_m2": "60,0"} for f in indoor_c]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    files.flats.write_text("\ufeff" + buf.getvalue(), encoding="utf-8")
    times = local_times(year, month, step_min)
    columns = ["time", "flat_id", "temperature_c"]
    columns += ["humidity_pct"] if humidity else []
    columns += ["co2_ppm"] if co2 else []
    frames = []
    if not empty:
        for i, (flat, t) in enumerate(indoor_c.items()):
            frame = pd.DataFrame({"time": times, "flat_id": flat, "temperature_c": t})
            frame["humidity_pct"] = 40.0 + 10 * i
            frame["co2_ppm"] = 700.0 + 400 * i
            frames.append(frame[columns])
    climate = pd.concat(frames) if frames else pd.DataFrame(columns=columns)
    climate.to_csv(files.climate, sep=";", index=False, encoding="utf-8-sig")
    weather = pd.DataFrame({"time": local_times(year, month), "temperature_c": 2.0})
    weather.to_csv(files.weather, index=False)
    return files


def settle(
    files: Files, out: Path, period: str, *extra: str, cost: str = "100000,00"
) -> subprocess.CompletedProcess[str]:
    """``python -m cloud.cli settle`` on the files, as finance runs it."""
    args = [sys.executable, "-m", "cloud.cli", "settle"]
    args += ["--flats", str(files.flats), "--climate", str(files.climate)]
    args += ["--weather", str(files.weather), "--total-cost", cost, "--period", period]
    args += ["--out", str(out), "--statement-date", "2026-12-01", *extra]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def read_out(path: Path) -> list[dict[str, str]]:
    """The output CSV's rows as text (ids untouched)."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))


def pdf_text(path: Path | bytes) -> str:
    data = path if isinstance(path, bytes) else path.read_bytes()
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)
