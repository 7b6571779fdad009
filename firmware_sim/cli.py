"""``indeklima simulate``: the building physics alone (no gateway, no MQTT) written as the CSV
files the other commands read — the quickest way to data for the settlement and the analytics::

    indeklima simulate --flats 12 --start 2026-01-05 --end 2026-01-12 --seed 1 --out sim/
    indeklima settle --flats sim/flats.csv --climate sim/climate.csv --weather sim/weather.csv \\
        --total-cost 100000 --period 2026-01 --out sim/settlement.csv
    indeklima mould-index sim/surface_B1-001.csv

Files written into ``--out DIR``:

``flats.csv``           ``flat_id,area_m2,position_factor`` (``settle --flats``)
``climate.csv``         ``time,flat_id,temperature_c,humidity_pct,co2_ppm`` every 5 minutes,
                        living-room air (``settle --climate``)
``weather.csv``         ``time,temperature_c,…`` outdoor, every 5 minutes (``settle --weather``)
``truth.csv``           per flat the ground truth over the period (heat from the radiators and
                        the neighbours, hours with windows open, mean air change, …)
``surface_<flat>.csv``  ``time,temperature_c,humidity_pct`` on the flat's worst thermal bridge
                        (``mould-index``)
``registry.json``       the building as ``cloud.registry.Registry`` reads it

Times are ISO 8601 UTC with ``Z`` (``2026-01-05T00:05:00Z``), which both ``settle``
(``cloud/settlement/csv_io.py``) and ``mould-index`` parse. A row stamped *t* is the state at *t*
(the first row is one record interval after the start). The period is any two of ``--start``,
``--end``, ``--days``; a missing end is now (floored to the hour), a missing length 7 days.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import pandas as pd

    from firmware_sim.building import SimRun
    from firmware_sim.scenario import Scenario

DEFAULT_DAYS: Final = 7.0
MAX_DAYS: Final = 3660.0
MAX_FLATS: Final = 10_000
MAX_WARM_UP_DAYS: Final = 366.0
MIN_PERIOD: Final = timedelta(hours=1)
RECORD_EVERY_S: Final = 300.0
STEP_S: Final = 60.0
CHUNK: Final = timedelta(days=1)
"""Simulate (and report progress) a day at a time; the result equals one long run."""

CLIMATE_COLUMNS: Final = ("temperature_c", "humidity_pct", "co2_ppm")
DECIMALS: Final = {"temperature_c": 3, "humidity_pct": 2, "co2_ppm": 1}
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


class SimulateError(ValueError):
    """The arguments cannot be used; the message says why and what to do (Danish / English)."""


# -- argument parsing -----------------------------------------------------------------------------


def _when(text: str) -> datetime:
    """ISO 8601 date or date-time with a zone, in UTC; a bare date is midnight UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: skriv tidspunktet som ISO 8601, fx 2026-01-05 eller 2026-01-05T06:00Z / "
            "write the time as ISO 8601, e.g. 2026-01-05 or 2026-01-05T06:00Z"
        ) from None
    if value.tzinfo is None:
        if len(text.strip()) == 10:  # YYYY-MM-DD
            return value.replace(tzinfo=UTC)
        raise argparse.ArgumentTypeError(
            f"{text!r}: tidspunktet mangler tidszone – tilføj Z (UTC) eller +01:00 / "
            "the time has no zone – add Z (UTC) or +01:00"
        )
    return value.astimezone(UTC)


def _days(text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: antal døgn skal være et tal over 0 og højst {MAX_DAYS:g} / "
            f"days must be a number above 0 and at most {MAX_DAYS:g}"
        )
    return value


def _warm_up(text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_WARM_UP_DAYS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: indsvingning skal være 0–{MAX_WARM_UP_DAYS:g} døgn / "
            f"the warm-up must be 0-{MAX_WARM_UP_DAYS:g} days"
        )
    return value


def _flats(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_FLATS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: antal lejligheder skal være et helt tal fra 1 til {MAX_FLATS} / "
            f"the number of flats must be a whole number from 1 to {MAX_FLATS}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: seed skal være et helt tal ≥ 0 / the seed must be a whole number >= 0"
        )
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulér bygningens fysik alene (uden gateway og MQTT) og skriv CSV-filer til settle og "
        "mould-index. / Run the building physics alone and write CSV files for settle and "
        "mould-index."
    )
    parser.add_argument(
        "--flats",
        type=_flats,
        metavar="N",
        help="antal lejligheder / number of flats (standard: den medfølgende bygning med 12 "
        "/ default: the shipped 12-flat building)",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        metavar="FILE.toml",
        help="scenariefil i stedet for --flats / scenario file instead of --flats",
    )
    when = parser.add_argument_group(
        "periode / period",
        "to af --start, --end, --days; standard: de sidste 7 døgn til nu (hel time) / any two of "
        "--start, --end, --days; default: the last 7 days ending now (whole hour)",
    )
    when.add_argument(
        "--days", type=_days, metavar="D", help="længde i døgn / length in days (7, 0.5)"
    )
    when.add_argument("--start", type=_when, metavar="ISO", help="fx/e.g. 2026-01-05T00:00Z")
    when.add_argument("--end", type=_when, metavar="ISO", help="fx/e.g. 2026-01-12 (= 00:00Z)")
    parser.add_argument(
        "--warm-up-days",
        type=_warm_up,
        default=0.0,
        metavar="W",
        help="simulér W døgn før starten, hverken skrevet eller talt med / simulate W days before "
        "the start, neither written nor counted (default 0)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="S",
        help="tilfældighedsfrø / random seed (default 0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="mappe til filerne / folder for the files",
    )


def resolve_period(
    now: datetime, start: datetime | None, end: datetime | None, days: float | None
) -> tuple[datetime, datetime]:
    """The simulated period [start, end) from any two of start, end and days."""
    if start is not None and end is not None and days is not None:
        raise SimulateError(
            "giv højst to af --start, --end og --days / give at most two of --start, --end, --days"
        )
    if start is None:
        end = end or now.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=DEFAULT_DAYS if days is None else days)
    elif end is None:
        end = (
            start + timedelta(days=days)
            if days is not None
            else now.replace(minute=0, second=0, microsecond=0)
        )
    if end - start < MIN_PERIOD:
        raise SimulateError(
            f"perioden {start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ} skal vare mindst en time – "
            "ret --start/--end / the period must last at least an hour – fix --start/--end"
        )
    if end - start > timedelta(days=MAX_DAYS):
        raise SimulateError(
            f"perioden er over {MAX_DAYS:g} døgn – forkort den / "
            f"the period is longer than {MAX_DAYS:g} days – shorten it"
        )
    return start, end


# -- simulation and tables ------------------------------------------------------------------------


def simulate(
    scenario: Scenario,
    start: datetime,
    end: datetime,
    *,
    seed: int = 0,
    warm_up_days: float = 0.0,
    chunk: timedelta = CHUNK,
    progress: Callable[[datetime, float], None] | None = None,
) -> SimRun:
    """``firmware_sim.building.run`` a chunk at a time, calling ``progress(simulated up to,
    fraction done)`` after each chunk; the frames are those of one long run."""
    import pandas as pd

    from firmware_sim.building import Building, SimRun

    building = Building(scenario, seed=seed, start=start, warm_up_days=warm_up_days)
    parts: list[SimRun] = []
    t = start
    while t < end:
        t = min(t + chunk, end)
        parts.append(building.run_until(t, step_s=STEP_S, record_every_s=RECORD_EVERY_S))
        if progress is not None:
            progress(t, (t - start) / (end - start))
    return SimRun(
        flats=pd.concat([p.flats for p in parts], ignore_index=True),
        weather=pd.concat([p.weather for p in parts], ignore_index=True),
        totals=parts[-1].totals,  # accumulated since the start
    )


def _iso(times: pd.Series) -> pd.Series:
    """Format UTC times once per distinct value (a long run repeats each time per flat)."""
    import pandas as pd

    codes, uniques = pd.factorize(times)
    text = pd.DatetimeIndex(uniques).tz_convert("UTC").strftime(TIME_FORMAT).to_numpy()
    return pd.Series(text[codes], index=times.index)


def flats_table(scenario: Scenario) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "flat_id": [f.id for f in scenario.flats],
            "area_m2": [f.area_m2 for f in scenario.flats],
            "position_factor": [f.position_factor for f in scenario.flats],
        }
    )


def climate_table(result: SimRun) -> pd.DataFrame:
    import pandas as pd

    f = result.flats
    out = pd.DataFrame({"time": _iso(f["time"]), "flat_id": f["flat"]})
    for column in CLIMATE_COLUMNS:
        out[column] = f[column].round(DECIMALS[column])
    return out


def weather_table(result: SimRun) -> pd.DataFrame:
    w = result.weather.copy()
    numbers = [c for c in w.columns if c != "time"]
    w[numbers] = w[numbers].round(3)
    w["time"] = _iso(w["time"])
    return w


def truth_table(scenario: Scenario, result: SimRun) -> pd.DataFrame:
    """Totals over the period per flat, plus period means of what the sensors would see."""
    means = result.flats.groupby("flat", sort=False).agg(
        mean_temperature_c=("temperature_c", "mean"),
        mean_humidity_pct=("humidity_pct", "mean"),
        mean_co2_ppm=("co2_ppm", "mean"),
        max_surface_humidity_pct=("surface_humidity_pct", "max"),
    )
    truth = flats_table(scenario).set_index("flat_id")
    truth = truth.join(result.totals).join(means)
    truth.index.name = "flat_id"
    return truth.round(4).reset_index()


def surface_name(flat_id: str) -> str:
    """File name of a flat's surface series (``:`` — allowed in ids — becomes ``_``)."""
    return f"surface_{flat_id.replace(':', '_')}.csv"


def surface_tables(result: SimRun) -> dict[str, pd.DataFrame]:
    """Per flat (in scenario order) the surface series of its worst thermal bridge."""
    import pandas as pd

    f = result.flats
    text = _iso(f["time"]).to_numpy()
    temperature = f["surface_temperature_c"].round(3).to_numpy()
    humidity = f["surface_humidity_pct"].round(2).to_numpy()
    rows = f.groupby("flat", sort=False).indices
    return {
        str(flat_id): pd.DataFrame(
            {
                "time": text[rows[flat_id]],
                "temperature_c": temperature[rows[flat_id]],
                "humidity_pct": humidity[rows[flat_id]],
            }
        )
        for flat_id in f["flat"].unique()
    }


def settle_period(start: datetime, end: datetime) -> str:
    """The ``settle --period`` (whole months) that covers [start, end)."""
    last = end - timedelta(microseconds=1)
    first_text, last_text = f"{start:%Y-%m}", f"{last:%Y-%m}"
    return first_text if first_text == last_text else f"{first_text}..{last_text}"


# -- the command ----------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[simulate] {message}", file=sys.stderr, flush=True)  # noqa: T201


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def _prepare(args: argparse.Namespace) -> tuple[Scenario, datetime, datetime]:
    """Check the arguments together, load the scenario and create the output folder."""
    from firmware_sim.scenario import default_scenario, load_scenario

    if args.scenario is not None and args.flats is not None:
        raise SimulateError(
            "--flats og --scenario kan ikke bruges sammen – scenariet bestemmer lejlighederne"
            " / --flats and --scenario cannot be combined – the scenario sets the flats"
        )
    start, end = resolve_period(datetime.now(UTC), args.start, args.end, args.days)
    try:
        scenario = (
            load_scenario(args.scenario)
            if args.scenario is not None
            else default_scenario(args.flats)
        )
    except ValueError as exc:
        raise SimulateError(
            f"scenariet kan ikke bruges – ret filen / the scenario cannot be used: {exc}"
        ) from exc
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulateError(
            f"kan ikke oprette mappen {args.out}: {exc.strerror} – vælg en anden --out / "
            "cannot create the folder – choose another --out"
        ) from exc
    return scenario, start, end


def write_outputs(out: Path, scenario: Scenario, result: SimRun) -> None:
    """Every file of the command into ``out`` (which exists)."""
    import json

    _write_csv(flats_table(scenario), out / "flats.csv")
    _write_csv(climate_table(result), out / "climate.csv")
    _write_csv(weather_table(result), out / "weather.csv")
    _write_csv(truth_table(scenario, result), out / "truth.csv")
    for flat_id, frame in surface_tables(result).items():
        _write_csv(frame, out / surface_name(flat_id))
    (out / "registry.json").write_text(
        json.dumps(scenario.to_registry(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def run(args: argparse.Namespace) -> int:
    try:
        scenario, start, end = _prepare(args)
    except SimulateError as exc:
        print(f"fejl / error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    out: Path = args.out
    days = (end - start) / timedelta(days=1)
    n = len(scenario.flats)
    span = f"{start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ}"
    _say(f"{scenario.building.id}: {n} lejligheder/flats, {span} ({days:g} døgn/days)")
    if args.warm_up_days > 0:
        _say(f"indsvingning/warm-up {args.warm_up_days:g} døgn/days")
    clock = time.monotonic()

    def progress(t: datetime, done: float) -> None:
        elapsed = time.monotonic() - clock
        _say(f"simuleret/simulated til/to {t:%Y-%m-%dT%H:%MZ} ({done:.0%}, {elapsed:.1f} s)")

    result = simulate(
        scenario, start, end, seed=args.seed, warm_up_days=args.warm_up_days, progress=progress
    )
    _say(f"skriver/writing {out}")
    try:
        write_outputs(out, scenario, result)
    except OSError as exc:
        print(  # noqa: T201
            f"fejl / error: kan ikke skrive i {out}: {exc} – tjek plads og rettigheder / "
            "cannot write there – check space and permissions",
            file=sys.stderr,
        )
        return 2

    records = len(result.weather)
    radiator = float(result.totals["radiator_kwh"].sum())
    print(  # noqa: T201
        f"{scenario.building.id} {span}, seed {args.seed}: {n} lejligheder/flats × {records} "
        f"tider/times à 5 min; radiatorvarme/radiator heat {radiator:.1f} kWh\n"
        f"skrev/wrote {out}: flats.csv, climate.csv ({len(result.flats)} rækker/rows), "
        f"weather.csv ({records}), truth.csv ({n}), {n} × surface_<flat>.csv, registry.json\n"
        f"næste/next: indeklima settle --building-id {scenario.building.id} "
        f"--flats {out / 'flats.csv'} --climate {out / 'climate.csv'} "
        f"--weather {out / 'weather.csv'} --period {settle_period(start, end)} "
        "--total-cost DKK --out OUT.csv\n"
        f"            indeklima mould-index {out / surface_name(scenario.flats[0].id)}"
    )
    return 0
