"""One PDF statement per flat, in Danish (fpdf2 with an embedded Unicode TrueType font).

The font is DejaVu Sans, found at run time (Debian package ``fonts-dejavu-core``), so every name
prints — ``Łukasz``, ``Şahin``, ``Ørsted`` — not only Latin-1; without it the statements are
refused with a message that says which package to install (never a ``?`` in a tenant's name).

The fields follow lejeloven § 40 and the billing order BEK 734 § 14 as summarised in DOMAIN.md:
period; the building's total cost and the date the final heating bill was received; flat id, area
and area definition; distribution key (fixed % / variable %); position factor; the measured
figures behind the points; share % and amount; aconto paid; balance with due date and
instalments; the right to object in writing within 6 weeks; comparison with the previous period;
how and where to complain. The creation date is the run's statement date, so reruns give the
same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Final

from cloud.settlement.model import FlatStatement, SettlementResult
from cloud.settlement.money import format_dkk
from cloud.settlement.names import statement_filename
from cloud.settlement.periods import first_and_last_day
from cloud.settlement.tariff import Method

FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian/Ubuntu fonts-dejavu-core
    Path("/usr/share/fonts/dejavu"),  # Fedora, Arch
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
FONT_FILES: Final = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


class FontMissing(RuntimeError):
    """No Unicode font for the PDF statements; the message names the package to install."""


@lru_cache(maxsize=4)
def find_font(dirs: tuple[Path, ...] = FONT_DIRS) -> tuple[Path, Path]:
    """(regular, bold) DejaVu Sans TrueType files from the first folder that has both."""
    for d in dirs:
        regular, bold = (d / name for name in FONT_FILES)
        if regular.is_file() and bold.is_file():
            return regular, bold
    searched = ", ".join(str(d) for d in dirs)
    raise FontMissing(
        f"skrifttypen DejaVu Sans ({' og '.join(FONT_FILES)}) findes ikke i {searched}; "
        "installér Debian-pakken fonts-dejavu-core (apt-get install fonts-dejavu-core) / "
        f"the DejaVu Sans font is not in {searched}; install the Debian package "
        "fonts-dejavu-core"
    )


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
_QUANTITY_DA = {
    "temperature": "temperatur",
    "humidity": "luftfugtighed",
    "co2": "CO2",
    "window": "vinduesåbning",
}
_BAND_DA = {
    "too_warm": "for varmt",
    "too_cold": "for koldt",
    "too_humid": "for fugtigt",
    "too_dry": "for tørt",
    "high_co2": "for meget CO2",
}


def _kr(ore: int) -> str:
    return f"{format_dkk(ore)} kr."


def _num(value: float, places: int = 1) -> str:
    return f"{value:.{places}f}".replace(".", ",")


def _basis(result: SettlementResult) -> str:
    """Which measurements the points rest on (sensors without CO2 are named as such)."""
    method = result.tariff.method
    if method is Method.AREA:
        return "ingen målinger: fordelingen følger arealet (konventionel fordeling)"
    if method is Method.HCA:
        return "varmefordelingsmålernes aflæsninger (konventionel fordeling)"
    names = [_QUANTITY_DA[q] for q in result.measured_quantities]
    text = ", ".join(names) if names else "temperatur"
    left_out = []
    no_co2 = "co2" not in result.measured_quantities
    if no_co2 and (method is Method.BAND_HOURS or "airing_not_available=no_co2" in result.notes):
        left_out.append(
            "CO2 måles ikke i ejendommen, så CO2-båndet og udluftning udledt af CO2 er udeladt"
        )
    if method is Method.BAND_HOURS and "humidity" not in result.measured_quantities:
        left_out.append("luftfugtighed måles ikke, så fugtbåndene er udeladt")
    return text + ("; " + "; ".join(left_out) if left_out else "") + "."


def _correction_lines(result: SettlementResult) -> list[tuple[str, str]]:
    run = result.run
    if run is None or run.supersedes is None:
        return []
    return [
        (
            "KORREKTION",
            f"Denne opgørelse er en korrektion (kørsel {run.run_id}) og erstatter opgørelsen "
            f"fra kørsel {run.supersedes}. Årsag: {run.reason}",
        )
    ]


def _run_text(result: SettlementResult) -> str:
    run = result.run
    if run is None:
        return ""
    if run.supersedes is None:
        return f"Kørsel {run.run_id}. "
    return f"Kørsel {run.run_id} (korrektion af kørsel {run.supersedes}). "


def statement_lines(result: SettlementResult, s: FlatStatement) -> list[tuple[str, str]]:
    """(heading, text) pairs of the statement; the PDF lays them out, tests read them."""
    tariff = result.tariff
    first_day, last_day = first_and_last_day(result.period_start, result.period_end)
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
    basis = _basis(result)
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
    lines = _correction_lines(result)
    lines += [
        ("Ejendom", f"{result.building_name or result.building_id} ({result.building_id})"),
        ("Regnskabsperiode", f"{first_day.isoformat()} til {last_day.isoformat()}"),
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
        ("Målinger bag pointene", basis),
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
            f"{_run_text(result)}Tarif {tariff.version} (SHA-256 {result.tariff_sha256[:12]}); "
            f"inddata SHA-256 {result.input_sha256[:16]}; opgjort "
            f"{result.statement_date.isoformat()}.",
        )
    )
    return lines


def statement_pdf(
    result: SettlementResult, s: FlatStatement, font_dirs: Sequence[Path] = FONT_DIRS
) -> bytes:
    """The statement as PDF bytes; the same result gives the same bytes (file dates are the
    statement date, the font subset is deterministic)."""
    from fpdf import FPDF

    regular, bold = find_font(tuple(font_dirs))
    correction = result.run is not None and result.run.supersedes is not None
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_creation_date(datetime.combine(result.statement_date, time(0), tzinfo=UTC))
    pdf.set_title(f"Varmeregnskab {s.flat_id}" + (" (korrektion)" if correction else ""))
    pdf.set_author("indeklima")
    pdf.set_creator("indeklima")
    pdf.set_producer("indeklima")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    title = "Varmeregnskab – fordeling af varmeudgifter"
    if correction:
        title = "Varmeregnskab – korrektion"
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(
        0, 5, "Dynamisk varmeregnskab efter målt indeklima", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(3)
    for heading, text in statement_lines(result, s):
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(0, 5.5, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(0, 5.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    return bytes(pdf.output())


def write_statements(
    result: SettlementResult, directory: Path, font_dirs: Sequence[Path] = FONT_DIRS
) -> list[Path]:
    """One PDF per flat in ``directory``, named by :func:`statement_filename` (a slug and a
    hash of the ids, never the raw id: ``/`` or ``../`` in an id cannot leave the folder)."""
    find_font(tuple(font_dirs))  # refuse before writing anything
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in result.statements:
        path = directory / statement_filename(result.building_id, s.flat_id)
        path.write_bytes(statement_pdf(result, s, font_dirs))
        paths.append(path)
    return paths
