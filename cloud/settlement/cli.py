"""``indeklima settle``: the heating settlement for finance, from CSV files or from the store.

From files::

    indeklima settle --flats FLATS.csv --climate CLIMATE.csv --weather WEATHER.csv \\
        --total-cost 412.345,50 --period 2025-10..2026-04 --out OUT.csv \\
        [--tariff FILE] [--xlsx OUT.xlsx] [--pdf-dir DIR] [--bill-received 2026-05-20]

Periods are Danish calendar months (Europe/Copenhagen). Amounts as Danes write them
(``250.000,00``, ``250 000,00``, ``250000.00``); an ambiguous ``250.000`` is refused. With
``--runs-db`` the run is recorded as a draft; ``--corrects RUN --reason TEXT`` records it as a
correction of the approved run in force. The deadline for approved statements is printed, with a
warning when it is near or passed.

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
    parser.add_argument(
        "--total-cost",
        required=True,
        metavar="DKK",
        help="e.g. 412.345,50 or 412345.50 (an ambiguous 412.345 is refused)",
    )
    parser.add_argument("--period", required=True, metavar="YYYY-MM[..YYYY-MM]")
    parser.add_argument("--tariff", type=Path, metavar="FILE", help="default: shipped tariff")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.csv")
    parser.add_argument("--xlsx", type=Path, metavar="OUT.xlsx")
    parser.add_argument("--pdf-dir", type=Path, metavar="DIR", help="one PDF per flat")
    parser.add_argument("--bill-received", type=_date, metavar="YYYY-MM-DD")
    parser.add_argument(
        "--statement-date", type=_date, metavar="YYYY-MM-DD", help="default: today (Danish date)"
    )
    parser.add_argument(
        "--runs-db", metavar="URL", help="record a draft run, e.g. sqlite:///runs.db"
    )
    parser.add_argument(
        "--corrects",
        type=int,
        metavar="RUN",
        help="record the run as a correction of this approved run (needs --runs-db, --reason)",
    )
    parser.add_argument("--reason", metavar="TEXT", help="why the correction is made")


def _say(message: str) -> None:
    print(f"[settle] {message}", file=sys.stderr, flush=True)  # noqa: T201


def run(args: argparse.Namespace) -> int:
    from cloud.settlement.csv_io import InputError, parse_period
    from cloud.settlement.engine import SettlementError, settle
    from cloud.settlement.money import MoneyError, format_dkk, to_ore
    from cloud.settlement.pdf import FontMissing
    from cloud.settlement.periods import local_date, period_label
    from cloud.settlement.runs import CorrectionError, RunNotFound
    from cloud.settlement.tariff import TariffError, default_tariff, load_tariff

    try:
        if args.corrects is not None and (not args.runs_db or not args.reason):
            raise InputError(
                "--corrects kræver --runs-db og --reason / --corrects needs --runs-db and --reason"
            )
        start, end = parse_period(args.period)
        tariff = load_tariff(args.tariff) if args.tariff else default_tariff()
        cost_ore = to_ore(args.total_cost)
        statement_date = args.statement_date or local_date(datetime.now(UTC))
        if args.building:
            result = _from_store(args, start, end, tariff, statement_date)
        else:
            inputs = _from_files(args, start, end, cost_ore, tariff, statement_date)
            result = settle(inputs, _say)
        if args.pdf_dir:
            from cloud.settlement.pdf import find_font

            find_font()
        _write_outputs(args, result)
    except (
        InputError,
        SettlementError,
        TariffError,
        MoneyError,
        CorrectionError,
        RunNotFound,
        FontMissing,
        KeyError,
        OSError,
    ) as exc:
        print(f"fejl / error: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(  # noqa: T201
        f"{result.building_id} {period_label(start, end)}: {len(result.statements)} "
        f"lejligheder/flats, i alt/total {format_dkk(result.total_ore)} kr = udgift/cost "
        f"{format_dkk(result.cost_ore)} kr; tarif {result.tariff.version}; "
        f"inddata/input sha256 {result.input_sha256[:16]} -> {args.out}"
    )
    for note in result.notes:
        print(f"bemærkning/note: {note}")  # noqa: T201
    _print_deadline(args, result)
    return 0


def _print_deadline(args: argparse.Namespace, result: SettlementResult) -> None:
    from cloud.settlement.deadline import deadline_status
    from cloud.settlement.periods import local_date

    year_end_month = getattr(args, "_accounting_year_end_month", None)
    status = deadline_status(
        result.period_start,
        result.period_end,
        local_date(datetime.now(UTC)),
        None,
        year_end_month,
    )
    print(  # noqa: T201
        f"frist/deadline: godkendte opgørelser senest/approved statements by "
        f"{status.deadline.isoformat()}"
    )
    if status.warning:
        print(f"advarsel / warning: {status.warning}", file=sys.stderr)  # noqa: T201


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
    args._accounting_year_end_month = registry.building(args.building).accounting_year_end_month
    store = store_from_args(args)
    try:
        _say(f"henter/reading {args.building} {args.period} from the store")
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
    """Record the run first (if asked), so that every export carries its id."""
    from dataclasses import replace

    from cloud.settlement.export import to_csv_bytes, to_xlsx_bytes
    from cloud.settlement.pdf import write_statements

    if args.runs_db:
        from cloud.settlement.runs import RunStore

        runs = RunStore(args.runs_db)
        try:
            run_id = runs.create(
                result,
                lambda ref: to_csv_bytes(replace(result, run=ref)),
                created_by="cli",
                supersedes=args.corrects,
                reason=args.reason,
            )
            result = replace(result, run=runs.get(run_id).ref)
        finally:
            runs.close()
        what = "korrektion/correction" if args.corrects is not None else "kladde/draft"
        print(f"kørsel/run {run_id} gemt som {what} i/in {args.runs_db}")  # noqa: T201
    args.out.write_bytes(to_csv_bytes(result))
    if args.xlsx:
        args.xlsx.write_bytes(to_xlsx_bytes([result]))
    if args.pdf_dir:
        _say(f"skriver/writing {len(result.statements)} PDF -> {args.pdf_dir}")
        write_statements(result, args.pdf_dir)
