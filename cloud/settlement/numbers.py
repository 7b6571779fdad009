"""Numbers as Danes and programs write them: one parser for amounts, areas and factors.

The rule (TARIFF.md, "Numbers"):

* ``,`` is always the decimal mark (``250000,5``);
* ``.`` or a space may separate thousands, in groups of exactly three digits, the same separator
  throughout (``250.000,00``, ``250 000,00``, ``1.000.000``);
* a single ``.`` is a decimal point when it cannot be a thousands separator (``250000.00``,
  ``72.5``, ``0.9``);
* a single ``.`` followed by exactly three digits and nothing else (``250.000``, ``1.000``) is
  *ambiguous* — two hundred and fifty thousand to a Dane, 250 to a program — and is refused with
  both readings named; never a silent guess;
* anything else (``250,000.00``, ``1,2,3``, ``12a``) is refused.

Money (kroner) additionally allows at most two decimals (øre): ``1,000`` is refused, since it
reads as one krone although a writer may have meant one thousand.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

_SPACES: Final = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2212": "-"})
_AMBIGUOUS: Final = re.compile(r"(?P<head>[1-9]\d{0,2})\.(?P<tail>\d{3})")
_GROUPED: Final = re.compile(
    r"(?P<int>[1-9]\d{0,2}(?P<sep>[. ])\d{3}(?:(?P=sep)\d{3})*)(?:,(?P<frac>\d+))?"
)
_PLAIN_COMMA: Final = re.compile(r"(?P<int>\d+)(?:,(?P<frac>\d+))?")
_POINT: Final = re.compile(r"(?P<int>\d+|[1-9]\d{0,2}(?: \d{3})+)\.(?P<frac>\d+)")

RULE_DA: Final = "skriv fx 250000, 250000,00, 250.000,00, 250 000,00 eller 250000.00"
RULE_EN: Final = "write e.g. 250000, 250000,00, 250.000,00, 250 000,00 or 250000.00"


class NumberError(ValueError):
    """A number cannot be read without guessing; the message names the readings and the fix."""


def _split(text: str) -> tuple[str, str, str]:
    """(sign, integer digits, fraction digits) of a number in one of the accepted forms."""
    t = text.translate(_SPACES).strip()
    sign = ""
    if t[:1] in "+-":
        sign, t = ("-" if t[0] == "-" else ""), t[1:].lstrip()
    ambiguous = _AMBIGUOUS.fullmatch(t)
    if ambiguous:
        head, tail = ambiguous["head"], ambiguous["tail"]
        thousands = f"{sign}{head}{tail}"
        point = f"{sign}{head},{tail}".rstrip("0").rstrip(",")
        raise NumberError(
            f"{text!r} er tvetydigt: {thousands} (punktum som tusindtalsskilletegn) eller "
            f"{point} (punktum som decimaltegn); skriv {thousands} eller {thousands},00 – "
            f"eller {point} med decimalkomma / {text!r} is ambiguous: {thousands} (dot as "
            f"thousands separator) or {point.replace(',', '.')} (decimal point); write "
            f"{thousands} or {thousands},00 - or {point} with a decimal comma"
        )
    for pattern in (_GROUPED, _PLAIN_COMMA, _POINT):
        m = pattern.fullmatch(t)
        if m:
            digits = re.sub(r"[. ]", "", m["int"])
            return sign, digits, m["frac"] or ""
    raise NumberError(f"{text!r} er ikke et tal; {RULE_DA} / {text!r} is not a number; {RULE_EN}")


def parse_number(text: str) -> Decimal:
    """A number written by the rule in the module docstring, exactly (as a Decimal)."""
    if not text.strip():
        raise NumberError("tomt felt – skriv et tal / empty field - write a number")
    sign, whole, frac = _split(text)
    try:
        return Decimal(f"{sign}{whole}.{frac or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the patterns admit digits only
        raise NumberError(f"{text!r} er ikke et tal / is not a number") from exc


def parse_float(text: str) -> float:
    """`parse_number` as a float (areas, position factors, measurements)."""
    return float(parse_number(text))


def parse_amount(text: str) -> Decimal:
    """Kroner with at most two decimals (øre), by the same rule."""
    if not text.strip():
        raise NumberError("tomt beløb – skriv et beløb i kroner / empty amount - write DKK")
    sign, whole, frac = _split(text)
    if len(frac) > 2:
        hint_da = hint_en = ""
        if len(frac) == 3 and "," in text and len(whole) <= 3:
            hint_da = f"; komma er decimaltegn – mente du {whole}{frac}, så skriv {whole}{frac}"
            hint_en = f"; comma is the decimal mark - if you meant {whole}{frac}, write that"
        raise NumberError(
            f"beløbet {text!r} har mere end to decimaler (øre){hint_da} / the amount "
            f"{text!r} has more than two decimals{hint_en}"
        )
    return Decimal(f"{sign}{whole}.{frac or '0'}")
