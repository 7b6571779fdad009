"""CSV and XLSX exports of a settlement, byte-for-byte deterministic.

CSV: UTF-8 with BOM, ``;``-separated, decimal comma, CRLF line ends — what Danish Excel and rent
systems (EG Bolig, Unik Bolig imports) expect. No totals row (importers would read it as a flat);
the amounts add up to the building's cost exactly. Columns are documented in TARIFF.md.

XLSX: one sheet per building with a totals row; document properties and zip entry times are fixed
to the run's statement date so that a rerun gives the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime, time

from cloud.settlement.model import FlatStatement, SettlementResult
from cloud.settlement.money import format_dkk
from cloud.settlement.periods import first_and_last_day

CSV_COLUMNS: tuple[str, ...] = (
    "flat_id",
    "area_m2",
    "position_factor",
    "share_pct",
    "fixed_dkk",
    "variable_dkk",
    "amount_dkk",
    "points",
    "coverage_pct",
    "aconto_dkk",
    "balance_dkk",
    "due_date",
    "instalments",
    "flags",
    "run_id",
    "supersedes_run_id",
)
"""``run_id``/``supersedes_run_id``: the recorded run and, for a correction, the run it replaces
(empty when the settlement was not recorded, or is not a correction)."""


def _dec(value: float, places: int) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def _cell(text: str) -> str:
    if any(ch in text for ch in ';"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _run_cells(result: SettlementResult) -> list[str]:
    run = result.run
    if run is None:
        return ["", ""]
    return [str(run.run_id), "" if run.supersedes is None else str(run.supersedes)]


def csv_row(s: FlatStatement, result: SettlementResult) -> list[str]:
    return [
        s.flat_id,
        _dec(s.area_m2, 2),
        _dec(s.position_factor, 3),
        _dec(s.share_pct, 4),
        format_dkk(s.fixed_ore),
        format_dkk(s.variable_ore),
        format_dkk(s.amount_ore),
        _dec(s.points, 1),
        _dec(s.coverage_pct, 1),
        format_dkk(s.aconto_ore),
        format_dkk(s.balance_ore),
        s.due_date.isoformat(),
        str(len(s.instalments)),
        ",".join(s.flags),
        *_run_cells(result),
    ]


def to_csv_bytes(result: SettlementResult) -> bytes:
    lines = [";".join(CSV_COLUMNS)]
    lines += [";".join(_cell(v) for v in csv_row(s, result)) for s in result.statements]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def _fixed_time(result: SettlementResult) -> datetime:
    return datetime.combine(result.statement_date, time(0), tzinfo=UTC)


def _rezip(data: bytes, when: datetime) -> bytes:
    """Rewrite a zip with every entry stamped ``when`` (openpyxl stamps the current time)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    stamp = (when.year, when.month, when.day, when.hour, when.minute, when.second)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl sets "modified" to now on save
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + when.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
                    data,
                )
            dst.writestr(entry, data)
    return out.getvalue()


def _sheet_name(building_id: str) -> str:
    """Excel forbids ``[]:*?/\\`` in sheet names and allows 31 characters."""
    return re.sub(r"[\[\]:*?/\\]", "-", building_id)[:31] or "-"


XLSX_HEADERS: tuple[str, ...] = (
    "Lejlighed",
    "Areal m²",
    "Beliggenhedsfaktor",
    "Andel %",
    "Fast del kr",
    "Variabel del kr",
    "Beløb kr",
    "Point",
    "Datadækning %",
    "Aconto kr",
    "Saldo kr",
    "Forfald",
    "Rater",
    "Bemærkninger",
    "Kørsel",
    "Erstatter kørsel",
)


def to_xlsx_bytes(results: Sequence[SettlementResult]) -> bytes:
    """One sheet per building (sheet name = building id), amounts as numbers with 2 decimals."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    when = _fixed_time(results[0]).replace(tzinfo=None)
    wb.properties.created = when
    wb.properties.modified = when
    wb.properties.creator = "indeklima"
    wb.properties.title = "Varmeregnskab"
    for result in results:
        ws = wb.create_sheet(_sheet_name(result.building_id))
        first_day, last_day = first_and_last_day(result.period_start, result.period_end)
        title = f"Varmeregnskab {result.building_id} {first_day.isoformat()} til {last_day}"
        if result.run is not None and result.run.supersedes is not None:
            title += (
                f" – korrektion: kørsel {result.run.run_id} erstatter kørsel "
                f"{result.run.supersedes} ({result.run.reason})"
            )
        ws.append([title])
        ws.append(list(XLSX_HEADERS))
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for s in result.statements:
            ws.append(
                [
                    s.flat_id,
                    s.area_m2,
                    s.position_factor,
                    round(s.share_pct, 4),
                    s.fixed_ore / 100,
                    s.variable_ore / 100,
                    s.amount_ore / 100,
                    round(s.points, 1),
                    round(s.coverage_pct, 1),
                    s.aconto_ore / 100,
                    s.balance_ore / 100,
                    s.due_date.isoformat(),
                    len(s.instalments),
                    ",".join(s.flags),
                    *_run_cells(result),
                ]
            )
        first, last = 3, 2 + len(result.statements)
        total_row: list[object] = ["I alt", f"=SUM(B{first}:B{last})", None, None]
        total_row += [f"=SUM({c}{first}:{c}{last})" for c in "EFG"]
        total_row += [None, None, f"=SUM(J{first}:J{last})", f"=SUM(K{first}:K{last})"]
        ws.append(total_row)
        for cell in ws[last + 1]:
            cell.font = Font(bold=True)
        for row in ws.iter_rows(min_row=first, max_row=last + 1, min_col=5, max_col=11):
            for cell in row:
                cell.number_format = "0.00"
    buf = io.BytesIO()
    wb.save(buf)
    return _rezip(buf.getvalue(), _fixed_time(results[0]))
