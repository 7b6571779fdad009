"""The settlement: the building's cost split between its flats, exactly, to the øre.

``amount_i`` is the largest-remainder rounding of the exact share::

    exact_i = F x (area_i x pf_i) / sum(area x pf)  +  V x (points_i x pf_i) / sum(points x pf)

with F = f x cost (fixed part) and V = cost - F (variable part). The position factor pf
multiplies the flat's weight in both parts, so an exposed flat (pf < 1) never pays more than an
interior flat of the same area and climate. Money rules: lejeloven § 40 and BEK 734 § 14 (what a
statement must say); instalments when a back-payment exceeds three months' rent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from cloud.settlement import points as pts
from cloud.settlement.canonical import input_sha256
from cloud.settlement.model import FlatInfo, FlatStatement, SettlementInputs, SettlementResult
from cloud.settlement.money import largest_remainder_int
from cloud.settlement.periods import first_and_last_day, local_hours, period_label
from cloud.settlement.series import HOUR_S, FloatArray, fill_gaps, fill_weather, hourly_mean
from cloud.settlement.tariff import Method, Tariff, tariff_sha256

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


class SettlementError(ValueError):
    """The inputs cannot be settled; the message says what to fix (Danish / English)."""


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def due_date(statement_date: date, months_after: int) -> date:
    """The first rent day (the 1st of a month) at least ``months_after`` months after the
    statement date."""
    d = _add_months(statement_date, months_after)
    return d if d.day == 1 else _add_months(d.replace(day=1), 1)


def instalments(balance_ore: int, first: date, count: int) -> tuple[tuple[date, int], ...]:
    """Equal monthly instalments from ``first``; the first ones carry the odd øre."""
    base, extra = divmod(balance_ore, count)
    parts = [base + (1 if i < extra else 0) for i in range(count)]
    return tuple((_add_months(first, i), p) for i, p in enumerate(parts))


def period_text(inputs: SettlementInputs | SettlementResult) -> str:
    """``2026-03 (2026-03-01 til 2026-03-31)``: the period as finance names it (local dates)."""
    first, last = first_and_last_day(inputs.period_start, inputs.period_end)
    return f"{period_label(inputs.period_start, inputs.period_end)} ({first} til {last})"


def _check(inputs: SettlementInputs) -> int:
    for t in (inputs.period_start, inputs.period_end):
        if t.tzinfo is None:
            raise SettlementError(
                "periodens start og slut skal have tidszone (UTC) / the period's start and end "
                "must be timezone-aware (UTC)"
            )
    hours = (inputs.period_end - inputs.period_start) / timedelta(hours=1)
    if not inputs.flats:
        raise SettlementError("ingen lejligheder / no flats to settle")
    ids = [f.flat_id for f in inputs.flats]
    if len(set(ids)) != len(ids):
        raise SettlementError("lejlighed-id'er skal være entydige / flat ids must be unique")
    if hours <= 0 or hours % 1:
        raise SettlementError("perioden skal være hele timer / the period must be whole hours")
    if inputs.cost_ore < 0:
        raise SettlementError("udgiften kan ikke være negativ / the cost cannot be negative")
    c, w = inputs.climate, inputs.weather
    for name, start, step, steps in (
        ("climate", c.start, c.step_s, c.steps),
        ("weather", w.start, w.step_s, w.temperature_c.size),
    ):
        if start != inputs.period_start or steps * step != hours * HOUR_S:
            raise SettlementError(
                f"{name}-data ligger ikke på periodens tidsgitter / "
                f"{name} data are not on the period's time grid ({start}, {steps} x {step} s)"
            )
    return int(hours)


def _rows(inputs: SettlementInputs, order: list[str]) -> list[int] | None:
    index = {f: i for i, f in enumerate(inputs.climate.flat_ids)}
    rows = [index.get(f, -1) for f in order]
    return None if rows == list(range(len(inputs.climate.flat_ids))) else rows


def _take(matrix: FloatArray, rows: list[int] | None) -> FloatArray:
    if rows is None:
        return matrix
    out = np.full((len(rows), matrix.shape[1]), np.nan)
    for i, r in enumerate(rows):
        if r >= 0:
            out[i] = matrix[r]
    return out


def exact_ints(values: FloatArray) -> list[int]:
    """Non-negative floats as integers on one common power-of-two scale, exactly."""
    ratios = [float(v).as_integer_ratio() for v in values]
    scale = max(d for _, d in ratios)
    return [n * (scale // d) for n, d in ratios]


def settle(inputs: SettlementInputs, progress: Progress | None = None) -> SettlementResult:
    """Split ``inputs.cost_ore`` between the flats under ``inputs.tariff``."""
    say = progress or (lambda _msg: None)
    hours = _check(inputs)
    tariff: Tariff = inputs.tariff
    flats: list[FlatInfo] = sorted(inputs.flats, key=lambda f: f.flat_id)
    order = [f.flat_id for f in flats]
    notes: list[str] = []
    unknown = sorted(set(inputs.climate.flat_ids) - set(order))
    if unknown:
        notes.append(f"climate_for_unknown_flats_ignored={','.join(unknown)}")
    rows = _rows(inputs, order)
    c = inputs.climate
    say(f"timemiddel / hourly means: {len(order)} flats x {hours} h")
    hourly = {
        q: hourly_mean(_take(m, rows), c.step_s)[0]
        for q, m in (("t", c.temperature_c), ("rh", c.humidity_pct), ("co2", c.co2_ppm))
    }
    say("manglende data / missing data")
    cal = local_hours(inputs.period_start, hours)
    has: dict[str, npt.NDArray[np.bool_]] = {
        q: np.asarray(~np.isnan(m).all(axis=1)) for q, m in hourly.items()
    }
    with_data = has["t"] | has["rh"] | has["co2"]
    climate_method = tariff.method in (Method.DEGREE_HOURS, Method.BAND_HOURS)
    if climate_method and not has["t"].any():
        raise SettlementError(
            f"ingen indeklimadata for bygning {inputs.building_id} i perioden "
            f"{period_text(inputs)}: ingen lejlighed har en eneste temperaturmåling – tjek "
            "målere og gateway, eller brug en konventionel fordeling (method = area) / no "
            f"indoor-climate data for building {inputs.building_id} in {period_text(inputs)}: "
            "no flat has a single temperature reading - check sensors and gateway, or use a "
            "conventional key (method = area)"
        )
    # A quantity is used when every flat with data measured it: a building of RuuviTags or
    # Xiaomi sensors (no CO2) is settled on temperature and humidity alone, the same for all.
    in_use = {q: bool(with_data.any() and has[q][with_data].all()) for q in ("rh", "co2")}
    gap = tariff.missing_data.interpolate_max_h
    filled = {q: fill_gaps(m, cal.hour_of_week, gap) for q, m in hourly.items()}
    used = ["t"]
    if tariff.method is Method.BAND_HOURS:
        used += [q for q in ("rh", "co2") if in_use[q]]
        notes += [f"{q}_bands_left_out=not_measured" for q in ("rh", "co2") if not in_use[q]]
    measured = np.logical_and.reduce([filled[q].measured for q in used])
    measured_any = np.logical_or.reduce([filled[q].measured for q in used]).any(axis=1)
    interpolated = np.logical_or.reduce([filled[q].interpolated for q in used]).sum(axis=1)
    substituted = np.logical_or.reduce([filled[q].substituted for q in used]).sum(axis=1)
    coverage = measured.sum(axis=1) / hours * 100.0
    te_hourly, _ = hourly_mean(inputs.weather.temperature_c.reshape(1, -1), inputs.weather.step_s)
    try:
        te, weather_filled = fill_weather(te_hourly[0])
    except ValueError as exc:
        raise SettlementError(
            f"bygning {inputs.building_id}, {period_text(inputs)}: {exc}"
        ) from exc
    if weather_filled:
        notes.append(f"weather_interpolated={weather_filled}h")

    season = np.isin(cal.month, tariff.heating_season_months)
    day_season = season[cal.day_starts]
    heating = pts.heating_mask(te, season, tariff.degree_hours.outdoor_heating_limit_c)
    ti = filled["t"].values
    say("point / points")
    open_weight, excess_h = None, np.zeros(len(order))
    quantities: list[str] = []
    if climate_method:
        quantities.append("temperature")
    if tariff.method is Method.BAND_HOURS:
        quantities += [name for q, name in (("rh", "humidity"), ("co2", "co2")) if in_use[q]]
    if tariff.method is Method.DEGREE_HOURS and tariff.airing.enabled:
        frac: FloatArray | None = None
        if c.window_open_pct is not None:
            frac = pts.hourly_open_fraction(_take(c.window_open_pct, rows), c.step_s)
            notes.append("airing_source=window_open_pct")
            quantities.append("window")
        elif not in_use["co2"]:
            notes.append("airing_not_available=no_co2")
        else:
            frac = pts.derived_open_fraction(
                _take(c.temperature_c, rows), _take(c.co2_ppm, rows), c.step_s, tariff.airing
            )
            notes.append("airing_source=derived" if frac is not None else "airing_not_available")
            if frac is not None:
                quantities.append("co2")
        if frac is not None:
            open_weight, excess_h = pts.airing_excess(
                frac, cal.day_starts, day_season, tariff.airing.allowance_h_per_day
            )
    degree, airing_dh = pts.degree_hour_measures(
        ti, te, heating, open_weight, excess_h, tariff.degree_hours
    )
    counts = pts.band_counts(
        ti, filled["rh"].values, filled["co2"].values, heating, tariff.band_hours
    )
    if not in_use["rh"]:
        counts["too_humid"] = counts["too_dry"] = np.zeros(len(order))
    if not in_use["co2"]:
        counts["high_co2"] = np.zeros(len(order))
    area = np.array([f.area_m2 for f in flats])
    pf = np.array([f.position_factor for f in flats])
    if tariff.method is Method.DEGREE_HOURS:
        raw = area * degree + tariff.airing.equivalent_area_m2 * airing_dh
    elif tariff.method is Method.BAND_HOURS:
        raw = area * pts.band_points(counts, int(heating.sum()), tariff.band_hours)
    elif tariff.method is Method.AREA:
        raw = area.copy()
    else:
        missing_hca = [f.flat_id for f in flats if f.hca_units is None]
        if missing_hca:
            raise SettlementError(
                f"tariffen bruger fordelingsmålere, men hca_units mangler for {missing_hca} / "
                f"the tariff uses heat-cost allocators but hca_units is missing for {missing_hca}"
            )
        raw = np.array([f.hca_units or 0.0 for f in flats])
    points = np.round(raw, 6)
    fixed_w = exact_ints(area * pf)
    var_w = exact_ints(points * pf)
    if sum(var_w) == 0:
        notes.append("no_points_variable_part_by_area")
        var_w = fixed_w
    say("beløb / amounts")
    f_share = Fraction(tariff.fixed_share).limit_denominator(10**6)
    fsum, vsum = sum(fixed_w), sum(var_w)
    fn, fd = f_share.numerator, f_share.denominator
    # share_i = f a_i / sum(a) + (1 - f) v_i / sum(v) = numerators_i / (fd sum(a) sum(v))
    numerators = [fn * a * vsum + (fd - fn) * v * fsum for a, v in zip(fixed_w, var_w, strict=True)]
    denominator = fd * fsum * vsum
    amounts = largest_remainder_int(inputs.cost_ore, numerators)
    fixed = largest_remainder_int(round(inputs.cost_ore * f_share), fixed_w)

    due = due_date(inputs.statement_date, tariff.payment.due_months_after_statement)
    statements = []
    left_out = {"too_humid", "too_dry"} if not in_use["rh"] else set()
    left_out |= {"high_co2"} if not in_use["co2"] else set()
    band_names = tuple(k for k in counts if k not in left_out)
    for i, f in enumerate(flats):
        flags = []
        if not measured_any[i]:
            flags.append("no_data")
        elif coverage[i] < tariff.missing_data.low_coverage_pct:
            flags.append("low_coverage")
        if interpolated[i]:
            flags.append(f"interpolated={int(interpolated[i])}h")
        if substituted[i]:
            flags.append(f"substituted={int(substituted[i])}h")
        balance = amounts[i] - f.aconto_ore
        plan: tuple[tuple[date, int], ...] = ()
        threshold = tariff.payment.instalment_threshold_rent_months
        if balance > 0 and f.monthly_rent_ore is None:
            flags.append("rent_unknown")
        elif f.monthly_rent_ore is not None and balance > threshold * f.monthly_rent_ore > 0:
            plan = instalments(balance, due, tariff.payment.instalment_count)
            flags.append("instalments")
        statements.append(
            FlatStatement(
                flat_id=f.flat_id,
                area_m2=f.area_m2,
                position_factor=f.position_factor,
                points=float(points[i] * pf[i]),
                share=Fraction(numerators[i], denominator),
                fixed_ore=fixed[i],
                variable_ore=amounts[i] - fixed[i],
                amount_ore=amounts[i],
                coverage_pct=float(coverage[i]),
                interpolated_h=int(interpolated[i]),
                substituted_h=int(substituted[i]),
                mean_temperature_c=float(np.mean(ti[i])),
                degree_hours=float(degree[i]),
                airing_excess_h=float(excess_h[i]),
                band_hours=tuple((k, float(counts[k][i])) for k in band_names),
                aconto_ore=f.aconto_ore,
                balance_ore=balance,
                due_date=due,
                instalments=plan,
                previous_amount_ore=f.previous_amount_ore,
                flags=tuple(flags),
            )
        )
    say("hash af inddata / input hash")
    return SettlementResult(
        building_id=inputs.building_id,
        building_name=inputs.building_name,
        period_start=inputs.period_start,
        period_end=inputs.period_end,
        cost_ore=inputs.cost_ore,
        tariff=tariff,
        tariff_sha256=tariff_sha256(tariff),
        input_sha256=input_sha256(inputs),
        statement_date=inputs.statement_date,
        bill_received=inputs.bill_received,
        heating_hours=int(heating.sum()),
        measured_quantities=tuple(quantities),
        statements=tuple(statements),
        notes=tuple(notes),
    )
