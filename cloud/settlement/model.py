"""Inputs and results of a settlement: frozen dataclasses, money in øre."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from cloud.settlement.money import ore_to_dkk
from cloud.settlement.series import ClimateSeries, WeatherSeries
from cloud.settlement.tariff import Tariff


@dataclass(frozen=True, slots=True)
class FlatInfo:
    flat_id: str
    area_m2: float
    position_factor: float = 1.0
    aconto_ore: int = 0
    monthly_rent_ore: int | None = None
    hca_units: float | None = None
    previous_amount_ore: int | None = None
    """The flat's amount in the previous period, for the comparison on the statement."""

    def __post_init__(self) -> None:
        if not self.area_m2 > 0:
            raise ValueError(f"flat {self.flat_id}: area_m2 must be positive")
        if not 0 < self.position_factor <= 2:
            raise ValueError(f"flat {self.flat_id}: position_factor must be in (0, 2]")
        if self.hca_units is not None and not self.hca_units >= 0:
            raise ValueError(f"flat {self.flat_id}: hca_units must be non-negative")


@dataclass(frozen=True, eq=False)
class SettlementInputs:
    """Everything a settlement depends on; its canonical hash identifies a run's inputs."""

    building_id: str
    period_start: datetime
    period_end: datetime
    """Exclusive; both aware UTC instants, whole hours apart: normally local midnights of whole
    Danish calendar months (:mod:`cloud.settlement.periods`), so 743 to 745 hours a month."""
    cost_ore: int
    flats: tuple[FlatInfo, ...]
    climate: ClimateSeries
    weather: WeatherSeries
    tariff: Tariff
    statement_date: date
    bill_received: date | None = None
    building_name: str = ""


@dataclass(frozen=True, slots=True)
class FlatStatement:
    flat_id: str
    area_m2: float
    position_factor: float
    points: float
    share: Fraction
    """Exact share of the building's cost under the tariff (before rounding to øre)."""
    fixed_ore: int
    variable_ore: int
    amount_ore: int
    coverage_pct: float
    interpolated_h: int
    substituted_h: int
    mean_temperature_c: float
    degree_hours: float
    airing_excess_h: float
    band_hours: tuple[tuple[str, float], ...]
    aconto_ore: int
    balance_ore: int
    """amount - aconto: positive = the tenant pays (efterbetaling), negative = refund."""
    due_date: date
    instalments: tuple[tuple[date, int], ...]
    previous_amount_ore: int | None
    flags: tuple[str, ...]

    @property
    def share_pct(self) -> float:
        return float(self.share * 100)


@dataclass(frozen=True, slots=True)
class RunRef:
    """A recorded run, and for a correction the run it supersedes and why."""

    run_id: int
    supersedes: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SettlementResult:
    building_id: str
    building_name: str
    period_start: datetime
    period_end: datetime
    cost_ore: int
    tariff: Tariff
    tariff_sha256: str
    input_sha256: str
    statement_date: date
    bill_received: date | None
    heating_hours: int
    statements: tuple[FlatStatement, ...]
    notes: tuple[str, ...]
    measured_quantities: tuple[str, ...] = ()
    """What the points rest on: ``temperature``, ``humidity``, ``co2``, ``window`` (empty for the
    conventional keys, which use area or heat-cost allocators)."""
    run: RunRef | None = None
    """The recorded run this result belongs to (set when exported for a run)."""

    @property
    def total_ore(self) -> int:
        return sum(s.amount_ore for s in self.statements)

    @property
    def total_dkk(self) -> Decimal:
        """Sum of the flats' amounts: equals ``cost_dkk`` exactly."""
        return ore_to_dkk(self.total_ore)

    @property
    def cost_dkk(self) -> Decimal:
        return ore_to_dkk(self.cost_ore)

    def statement(self, flat_id: str) -> FlatStatement:
        for s in self.statements:
            if s.flat_id == flat_id:
                return s
        raise KeyError(f"flat {flat_id!r} is not in this settlement")
