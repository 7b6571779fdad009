"""One PDF statement per flat, in Danish (fpdf2, core font Helvetica: Latin-1 covers æøå).

The fields follow lejeloven § 40 and the billing order BEK 734 § 14 as summarised in DOMAIN.md:
period; the building's total cost and the date the final heating bill was received; flat id, area
and area definition; distribution key (fixed % / variable %); position factor; the measured
figures behind the points; share % and amount; aconto paid; balance with due date and
instalments; the right to object in writing within 6 weeks; comparison with the previous period;
how and where to complain. The creation date is the run's statement date, so reruns give the
same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from cloud.settlement.model import FlatStatement, SettlementResult
from cloud.settlement.money import format_dkk
from cloud.settlement.tariff import Method

_METHOD_DA = {
    Method.DEGREE_HOURS: "graddage-timer: areal × timer × (indetemperatur, mindst gulvtemperaturen,"
    " minus udetemperatur) plus udluftning ud over rådet",
    Method.BAND_HOURS: "timer uden for det grønne bånd (for varmt, for koldt, for fugtigt,"
    " for tørt, for meget CO2)",
    Method.AREA: "areal (konventionel fordeling)",
    Method.HCA: "varmefordelingsmålere (konventionel fordeling)",
}
_FLAG_DA = {
    "no_data": "Ingen måledata i perioden: dine værdier er erstattet med ejendommens gennemsnit.",
    "low_coverage": "Lav datadækning: manglende timer er erstattet efter reglen nedenfor.",
    "instalments": "Efterbetalingen overstiger 3 måneders leje og betales i rater.",
    "rent_unknown": "Månedlig leje ikke oplyst: ret til rater er ikke vurderet.",
}
_BAND_DA = {
    "too_warm": "for varmt",
    "too_cold": "for koldt",
    "too_humid": "for fugtigt",
    "too_dry": "for tørt",
    "high_co2": "for meget CO2",
}


def _t(text: str) -> str:
    """Core fonts are Latin-1: replace the few typographic characters outside it."""
    table = {"–": "-", "—": "-", "’": "'", "“": '"', "”": '"', "≥": ">=", "≤": "<="}
    out = "".join(table.get(ch, ch) for ch in text)
    return out.encode("latin-1", "replace").decode("latin-1")


def _kr(ore: int) -> str:
    return f"{format_dkk(ore)} kr."


def _num(value: float, places: int = 1) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def statement_lines(result: SettlementResult, s: FlatStatement) -> list[tuple[str, str]]:
    """(heading, text) pairs of the statement; the PDF lays them out, tests read them."""
    tariff = result.tariff
    last_day = (result.period_end - timedelta(days=1)).date()
    f_pct = round(tariff.fixed_share * 100)
    received = result.bill_received.isoformat() if result.bill_received else "ikke oplyst"
    measured = [
        f"Middeltemperatur {_num(s.mean_temperature_c)} °C",
        f"graddage-timer over gulv {_num(tariff.degree_hours.floor_c)} °C: "
        f"{_num(s.degree_hours, 0)} K·h",
        f"udluftning ud over rådet: {_num(s.airing_excess_h)} timer",
    ]
    measured.append(
        "timer uden for båndet: "
        + ", ".join(f"{_BAND_DA[k]} {_num(v, 0)}" for k, v in s.band_hours)
    )
    measured.append(f"point (efter beliggenhedsfaktor): {_num(s.points, 1)}")
    coverage = (
        f"Datadækning {_num(s.coverage_pct)} % af periodens timer. Huller på højst "
        f"{tariff.missing_data.interpolate_max_h} timer er interpoleret ({s.interpolated_h} t); "
        "længere huller er erstattet med lejlighedens eget gennemsnit for samme time på ugen "
        f"({s.substituted_h} t)."
    )
    if s.balance_ore > 0:
        balance = f"Efterbetaling {_kr(s.balance_ore)}, forfalder {s.due_date.isoformat()}."
    elif s.balance_ore < 0:
        balance = (
            f"Tilgodehavende {_kr(-s.balance_ore)}, udbetales/modregnes senest "
            f"{s.due_date.isoformat()}."
        )
    else:
        balance = "Saldo 0,00 kr."
    if s.instalments:
        balance += " Rater: " + "; ".join(f"{d.isoformat()} {_kr(a)}" for d, a in s.instalments)
    if s.previous_amount_ore is None:
        previous = "Forrige periode: ikke tilgængelig."
    else:
        change = s.amount_ore - s.previous_amount_ore
        previous = (
            f"Forrige periode: {_kr(s.previous_amount_ore)}; ændring "
            f"{'+' if change >= 0 else ''}{_kr(change)}."
        )
    lines = [
        ("Ejendom", f"{result.building_name or result.building_id} ({result.building_id})"),
        ("Regnskabsperiode", f"{result.period_start.date().isoformat()} til {last_day}"),
        ("Ejendommens samlede varmeudgift", _kr(result.cost_ore)),
        ("Endelig varmeregning modtaget", received),
        ("Lejlighed", s.flat_id),
        ("Areal", f"{_num(s.area_m2, 2)} m² ({tariff.area_definition})"),
        (
            "Fordelingsnøgle",
            f"fast del {f_pct} % efter areal × beliggenhedsfaktor; variabel del {100 - f_pct} % "
            f"efter {_METHOD_DA[tariff.method]}",
        ),
        ("Beliggenhedsfaktor", _num(s.position_factor, 3)),
        ("Målte værdier bag pointene", "; ".join(measured)),
        ("Datadækning", coverage),
        ("Din andel", f"{_num(s.share_pct, 4)} %"),
        (
            "Dit beløb",
            f"{_kr(s.amount_ore)} (fast del {_kr(s.fixed_ore)}, "
            f"variabel del {_kr(s.variable_ore)})",
        ),
        ("Betalt aconto", _kr(s.aconto_ore)),
        ("Saldo", balance),
        ("Sammenligning", previous),
        (
            "Indsigelse",
            "Du har ret til at gøre skriftlig indsigelse mod regnskabet over for udlejer senest "
            f"{tariff.payment.objection_weeks} uger efter, at du har modtaget det.",
        ),
        (
            "Klage",
            "Fastholder udlejer regnskabet efter din indsigelse, kan du indbringe sagen for "
            f"{tariff.payment.complaints_body}. Skriv til kommunen; se også borger.dk.",
        ),
    ]
    notes = [_FLAG_DA[f] for f in s.flags if f in _FLAG_DA]
    if notes:
        lines.append(("Bemærkninger", " ".join(notes)))
    lines.append(
        (
            "Beregning",
            f"Tarif {tariff.version} (SHA-256 {result.tariff_sha256[:12]}); inddata SHA-256 "
            f"{result.input_sha256[:16]}; opgjort {result.statement_date.isoformat()}.",
        )
    )
    return lines


def statement_pdf(result: SettlementResult, s: FlatStatement) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(datetime.combine(result.statement_date, time(0), tzinfo=UTC))
    pdf.set_title(_t(f"Varmeregnskab {s.flat_id}"))
    pdf.set_author("indeklima")
    pdf.set_creator("indeklima")
    pdf.set_producer("indeklima")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.multi_cell(
        0, 8, _t("Varmeregnskab – fordeling af varmeudgifter"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0, 5, _t("Dynamisk varmeregnskab efter målt indeklima"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(3)
    for heading, text in statement_lines(result, s):
        pdf.set_font("Helvetica", "B", 10)
        pdf.multi_cell(0, 5.5, _t(heading), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5.5, _t(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    return bytes(pdf.output())


def write_statements(result: SettlementResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in result.statements:
        path = directory / f"varmeregnskab_{result.building_id}_{s.flat_id}.pdf"
        path.write_bytes(statement_pdf(result, s))
        paths.append(path)
    return paths
