"""Money in øre (integers) and largest-remainder allocation.

The largest-remainder (Hamilton) method hands out whole øre so that the parts add up to the total
exactly: everyone gets the floor of their exact share, and the øre left over go one each to the
largest fractional remainders (ties broken by the order given, i.e. by flat id). No part is ever
more than one øre from its exact share.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from fractions import Fraction


class MoneyError(ValueError):
    """An amount cannot be read as Danish kroner."""


def to_ore(amount_dkk: Decimal | str | int | float) -> int:
    """Kroner to øre, exactly; more than two decimals is an error (never silently rounded).

    Text is read by the one Danish number rule (:mod:`cloud.settlement.numbers`): ``250000``,
    ``250000.00``, ``250.000,00``, ``250 000,00``, ``250000,5``; an ambiguous ``250.000`` is
    refused with both readings named."""
    from cloud.settlement.numbers import NumberError, parse_amount

    if isinstance(amount_dkk, str):
        try:
            value = parse_amount(amount_dkk)
        except NumberError as exc:
            raise MoneyError(str(exc)) from exc
    else:
        try:
            value = Decimal(str(amount_dkk))
        except InvalidOperation as exc:
            raise MoneyError(
                f"{amount_dkk!r} er ikke et beløb i kroner / {amount_dkk!r} is not an amount in DKK"
            ) from exc
    if not value.is_finite():
        raise MoneyError(f"beløbet {amount_dkk!r} er ikke endeligt / amount is not finite")
    ore = value * 100
    if ore != ore.to_integral_value():
        raise MoneyError(
            f"{amount_dkk!r} har mere end to decimaler (øre) / has more than two decimals"
        )
    return int(ore)


def ore_to_dkk(ore: int) -> Decimal:
    return (Decimal(ore) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def format_dkk(ore: int, *, decimal_sep: str = ",") -> str:
    """``123456`` -> ``"1234,56"``; negative amounts keep their sign; no thousands separator."""
    sign = "-" if ore < 0 else ""
    whole, frac = divmod(abs(ore), 100)
    return f"{sign}{whole}{decimal_sep}{frac:02d}"


def largest_remainder_int(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` (øre, >= 0) in proportion to non-negative integer ``weights``, exactly
    (integer arithmetic only). Raises ValueError if every weight is zero."""
    if total < 0:
        raise ValueError("total must be non-negative")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise ValueError("all weights are zero")
    quotients = [divmod(total * w, weight_sum) for w in weights]
    parts = [q for q, _ in quotients]
    left = total - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-quotients[i][1], i))
    for i in order[:left]:
        parts[i] += 1
    return parts


def common_denominator(weights: Sequence[Fraction]) -> tuple[list[int], int]:
    """Integers n_i and D with weights_i = n_i / D (D the least common denominator)."""
    denominator = math.lcm(*(w.denominator for w in weights)) if weights else 1
    return [w.numerator * (denominator // w.denominator) for w in weights], denominator


def largest_remainder(total: int, weights: Sequence[Fraction]) -> list[int]:
    """Split ``total`` (øre, >= 0) in proportion to non-negative rational ``weights``."""
    return largest_remainder_int(total, common_denominator(weights)[0])
