"""``indeklima settle``: the heating settlement for finance, from CSV files or from the store.

From files::

    indeklima settle --flats FLATS.csv --climate CLIMATE.csv --weather WEATHER.csv \\
        --total-cost 412345.50 --period 2025-10..2026-04 --out OUT.csv \\
        [--tariff FILE] [--xlsx OUT.xlsx] [--pdf-dir DIR] [--bill-received 2026-05-20]

From the store (hourly means of measurement ``climate`` and ``weather``)::

    indeklima settle --building B1 --registry registry.toml --sqlite store.db ... --out OUT.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloud.settlement.model import SettlementInputs, SettlementResult
    from cloud.settlement.tariff import Tariff


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: skriv datoen som ÅÅÅÅ-MM-DD / write the date as YYYY-MM-DD"
        ) from exc


def configure(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("inddata fra filer / input from files")
    src.add_argument("--flats", type=Path, metavar="FLATS.csv", help="flat_id,area_m2[,...]")
    src.add_argument("--climate", type=Path, metavar="CLIMATE.csv")
    src.add_argument("--weather", type=Path, metavar="WEATHER.csv")
    src.add_argument("--building-id", default="B", help="building id on the statements")
    store = parser.add_argument_group("inddata fra databasen / input from the store")
    store.add_argument("--building", metavar="B", help="building id in the registry")
    store.add_argument("--registry", type=Path, metavar="registry.toml")
    store.add_argument("--store", metavar="sqlite:PATH", help="shorthand for --sqlite PATH")
    from cloud.store.open import add_store_arguments

    add_store_arguments(parser)
    parser.add_argument("--total-cost", required=True, metavar="DKK", help="e.g. 412345.50")
    parser.add_argument("--period", required=True, metavar="YYYY-MM[..YYYY-MM]")
    parser.add_argument("--tariff", type=Path, metavar="FILE", help="default: shipped tariff")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.csv")
    parser.add_argument("--xlsx", type=Path, metavar="OUT.xlsx")
    parser.add_argument("--pdf-dir", type=Path, metavar="DIR", help="one PDF per flat")
    parser.add_argument("--bill-received", type=_date, metavar="YYYY-MM-DD")
    parser.add_argument(
        "--statement-date", type=_date, metavar="YYYY-MM-DD", help="default: today (UTC)"
    )
    parser.add_argument(
        "--runs-db", metavar="URL", help="record a draft run, e.g. sqlite:///runs.db"
    )


def _say(message: str) -> None:
    print(f"[settle] {message}", file=sys.stderr, flush=True)  # noqa: T201


def run(args: argparse.Namespace) -> int:
    from cloud.settlement.csv_io import InputError, parse_period
    from cloud.settlement.engine import SettlementError, settle
    from cloud.settlement.money import MoneyError, format_dkk, to_ore
    from cloud.settlement.tariff import TariffError, default_tariff, load_tariff

    try:
        start, end = parse_period(args.period)
        tariff = load_tariff(args.tariff) if args.tariff else default_tariff()
        cost_ore = to_ore(args.total_cost)
        statement_date = args.statement_date or datetime.now(UTC).date()
        if args.building:
            result = _from_store(args, start, end, tariff, statement_date)
        else:
            inputs = _from_files(args, start, end, cost_ore, tariff, statement_date)
            result = settle(inputs, _say)
    except (InputError, SettlementError, TariffError, MoneyError, KeyError, OSError) as exc:
        print(f"fejl / error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    _write_outputs(args, result)
    print(  # noqa: T201
        f"{result.building_id} {args.period}: {len(result.statements)} lejligheder/flats, "
        f"i alt/total {format_dkk(result.total_ore)} kr = udgift/cost "
        f"{format_dkk(result.cost_ore)} kr; tarif {result.tariff.version}; "
        f"inddata/input sha256 {result.input_sha256[:16]} -> {args.out}"
    )
    for note in result.notes:
        print(f"bemærkning/note: {note}")  # noqa: T201
    return 0


def _from_files(
    args: argparse.Namespace,
    start: datetime,
    end: datetime,
    cost_ore: int,
    tariff: Tariff,
    statement_date: date,
) -> SettlementInputs:
    from cloud.settlement.csv_io import InputError, read_climate, read_flats, read_weather
    from cloud.settlement.model import SettlementInputs

    missing = [n for n in ("flats", "climate", "weather") if getattr(args, n) is None]
    if missing:
        flags = ", ".join(f"--{n}" for n in missing)
        raise InputError(
            f"mangler {flags} (eller brug --building med --registry) / "
            f"missing {flags} (or use --building with --registry)"
        )
    _say(f"læser/reading {args.flats}")
    flats = read_flats(args.flats)
    _say(f"læser/reading {args.climate}")
    climate = read_climate(args.climate, tuple(sorted(f.flat_id for f in flats)), start, end)
    weather = read_weather(args.weather, start, end)
    return SettlementInputs(
        building_id=args.building_id,
        period_start=start,
        period_end=end,
        cost_ore=cost_ore,
        flats=flats,
        climate=climate,
        weather=weather,
        tariff=tariff,
        statement_date=statement_date,
        bill_received=args.bill_received,
    )


def _from_store(
    args: argparse.Namespace, start: datetime, end: datetime, tariff: Tariff, statement_date: date
) -> SettlementResult:
    from cloud.registry import Registry
    from cloud.settlement.csv_io import InputError
    from cloud.settlement.store_io import settle_from_store
    from cloud.store.open import store_from_args

    if args.registry is None:
        raise InputError("--building kræver --registry / --building needs --registry")
    if args.store:
        kind, _, path = args.store.partition(":")
        if kind != "sqlite" or not path:
            raise InputError(
                f"--store {args.store!r}: skriv sqlite:STI / write sqlite:PATH "
                "(for InfluxDB: --influx-url URL --influx-db DB)"
            )
        args.sqlite = Path(path)
    registry = Registry.load(args.registry)
    store = store_from_args(args)
    try:
        _say(f"henter/reading {args.building} {start:%Y-%m-%d}..{end:%Y-%m-%d} from the store")
        return settle_from_store(
            store,
            registry,
            args.building,
            start,
            end,
            args.total_cost,
            tariff,
            statement_date=statement_date,
            bill_received=args.bill_received,
            progress=_say,
        )
    finally:
        store.close()


def _write_outputs(args: argparse.Namespace, result: SettlementResult) -> None:
    from cloud.settlement.export import to_csv_bytes, to_xlsx_bytes
    from cloud.settlement.pdf import write_statements

    csv = to_csv_bytes(result)
    args.out.write_bytes(csv)
    if args.xlsx:
        args.xlsx.write_bytes(to_xlsx_bytes([result]))
    if args.pdf_dir:
        _say(f"skriver/writing {len(result.statements)} PDF -> {args.pdf_dir}")
        write_statements(result, args.pdf_dir)
    if args.runs_db:
        from cloud.settlement.runs import RunStore

        runs = RunStore(args.runs_db)
        try:
            run_id = runs.create(result, csv, created_by="cli")
        finally:
            runs.close()
        print(f"kørsel/run {run_id} gemt som kladde/recorded as draft in {args.runs_db}")  # noqa: T201
