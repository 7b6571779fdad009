"""``indeklima mould-index INPUT.csv``: the VTT mould index from a technician's logger file.

INPUT.csv has columns ``time,temperature_c,humidity_pct`` of *surface* conditions (a logger on
the wall). With ``--frsi F`` the two columns are room air instead, and a column
``outdoor_temperature_c`` is needed: surface conditions then follow from fRsi
(cloud/analytics/surface.py). Output on stdout: CSV ``time,mould_index``, one row per input row,
the time column echoed as given.

Time steps (the logger need not be hourly): each row counts for the time since the previous row
(the first row for the typical — median — interval), and the model's hourly rates are scaled by
that length. An interval more than 3 h longer than the typical interval is a gap: the index
stands still during it (see the gap rule in cloud/analytics/vtt.py) and the row then counts for
the typical interval. Empty cells are missing readings and follow the same gap rule. A file with
no usable row (none with both temperature and humidity) is refused rather than printed as zeros.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cloud.analytics.vtt import DECLINE_CMAT, MAX_FILL_HOURS, Sensitivity

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

log = logging.getLogger(__name__)


class InputError(ValueError):
    """The input file cannot be used; the message says why (Danish / English)."""


_NO_USABLE_ROWS = (
    "ingen brugbare rækker: ingen række har både temperatur og luftfugtighed, så der kan ikke "
    "beregnes et skimmelindeks (0 ville fejlagtigt betyde 'ingen risiko') – tjek loggerens "
    "eksport / no usable rows: no row has both temperature and humidity, so no mould index "
    "can be computed (0 would wrongly read as 'no risk') - check the logger's export"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", type=Path, metavar="INPUT.csv", help="time,temperature_c,humidity_pct"
    )
    parser.add_argument(
        "--sensitivity",
        choices=[s.value for s in Sensitivity],
        default=Sensitivity.SENSITIVE.value,
        help="material sensitivity class (Ojanen et al. 2010); default sensitive "
        "(gypsum board, wallpaper)",
    )
    parser.add_argument(
        "--decline",
        type=float,
        default=1.0,
        metavar="CMAT",
        help=f"decline coefficient Cmat in 0-1, typical {', '.join(map(str, DECLINE_CMAT))} "
        "(default 1, the reference)",
    )
    parser.add_argument(
        "--frsi",
        type=float,
        metavar="F",
        help="treat the columns as room air and derive the surface with temperature factor F "
        "(needs a column outdoor_temperature_c)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        text = mould_index_csv(
            args.input.read_text(encoding="utf-8-sig"),
            Sensitivity(args.sensitivity),
            args.decline,
            args.frsi,
        )
    except OSError as exc:
        sys.stderr.write(f"kan ikke læse {args.input}: {exc.strerror} / cannot read it\n")
        return 2
    except InputError as exc:
        sys.stderr.write(f"{args.input}: {exc}\n")
        return 2
    sys.stdout.write(text)
    return 0


def mould_index_csv(text: str, sensitivity: Sensitivity, cmat: float, frsi: float | None) -> str:
    """The whole command as a pure function: CSV text in, CSV text out."""
    import io

    import pandas as pd

    if not 0.0 <= cmat <= 1.0:
        raise InputError(f"--decline {cmat} skal ligge i 0-1 / must be within 0-1")
    if frsi is not None and not 0.0 < frsi < 1.0:
        raise InputError(f"--frsi {frsi} skal ligge mellem 0 og 1 / must be between 0 and 1")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"ikke gyldig CSV / not valid CSV: {exc}") from exc
    needed = ["time", "temperature_c", "humidity_pct"]
    if frsi is not None:
        needed.append("outdoor_temperature_c")
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"mangler kolonne(r) {', '.join(missing)} (har {', '.join(frame.columns)}) / "
            f"missing column(s) {', '.join(missing)}; the header must name {','.join(needed)}"
        )
    if frame.empty:
        raise InputError(_NO_USABLE_ROWS)
    times = _parse_times(frame["time"])
    temperature = _parse_numbers(frame, "temperature_c")
    humidity = _parse_numbers(frame, "humidity_pct")
    if frsi is not None:
        from cloud.analytics.surface import surface_conditions

        outdoor = _parse_numbers(frame, "outdoor_temperature_c")
        temperature, humidity = surface_conditions(temperature, humidity, outdoor, frsi)
    import numpy as np

    if not (~np.isnan(temperature) & ~np.isnan(humidity)).any():
        raise InputError(_NO_USABLE_ROWS)
    index = _mould_index(times, temperature, humidity, sensitivity, cmat)
    out = pd.DataFrame({"time": frame["time"], "mould_index": index})
    return str(out.to_csv(index=False, float_format="%.4f", lineterminator="\n"))


def _parse_times(column: pd.Series[str]) -> npt.NDArray[np.float64]:
    """Hours since the first row; rows must be in increasing time."""
    import numpy as np
    import pandas as pd

    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(
            f"række {row + 2}: tiden {column.iloc[row]!r} kan ikke læses; brug ISO 8601, fx "
            f"2026-01-05T13:00:00+00:00 / row {row + 2}: unreadable time, use ISO 8601"
        )
    hours = (parsed - parsed.iloc[0]).dt.total_seconds().to_numpy() / 3600.0
    steps = np.diff(hours)
    if (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 1
        raise InputError(
            f"række {row + 2}: tiden går ikke frem ({column.iloc[row]}); sortér filen efter tid "
            f"og fjern dubletter / row {row + 2}: time does not increase; sort by time and "
            "remove duplicates"
        )
    return hours  # type: ignore[no-any-return]


def _parse_numbers(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """Numbers with '.' or ',' as decimal mark; empty cells are missing (NaN)."""
    import numpy as np
    import pandas as pd

    raw = frame[name].str.strip().str.replace(",", ".", regex=False)
    values = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
    bad = values.isna() & (raw != "")
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputError(
            f"række {row + 2}: {name} = {frame[name].iloc[row]!r} er ikke et tal / "
            f"row {row + 2}: {name} is not a number"
        )
    result: npt.NDArray[np.float64] = values.to_numpy(dtype=float)
    return result


def _mould_index(
    hours: npt.NDArray[np.float64],
    temperature: npt.NDArray[np.float64],
    humidity: npt.NDArray[np.float64],
    sensitivity: Sensitivity,
    cmat: float,
) -> npt.NDArray[np.float64]:
    """Apply the module's step rule; long intervals become a frozen gap step before the row."""
    import numpy as np

    from cloud.analytics import vtt

    steps = np.diff(hours)
    typical = float(np.median(steps)) if steps.size else 1.0
    dts = np.concatenate([[typical], steps])
    long_gap = dts > typical + MAX_FILL_HOURS
    gaps = np.where(long_gap, dts - typical, 0.0)
    dts = np.where(long_gap, typical, dts)
    # Interleave a missing step of the gap's length before each long-gap row.
    n = len(hours)
    t_steps = np.column_stack([np.full(n, np.nan), temperature]).ravel()
    rh_steps = np.column_stack([np.full(n, np.nan), humidity]).ravel()
    dt_steps = np.column_stack([gaps, dts]).ravel()
    keep = dt_steps > 0
    rows_at = np.cumsum(keep)[1::2] - 1  # position of each row's own step after filtering
    m, _ = vtt.run(t_steps[keep], rh_steps[keep], sensitivity, cmat, dt_hours=dt_steps[keep])
    result: npt.NDArray[np.float64] = m[rows_at]
    return result
