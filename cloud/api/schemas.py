"""Request and response bodies (pydantic at the boundary). Money is a decimal string in kroner
(``"1234.56"``, exact) next to integer øre where it is summed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from cloud.analytics.alerts import AlertKind, AlertState, Severity
from cloud.registry import Position

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-01"])]


def _danish_amount(value: object) -> object:
    """Text amounts by the settlement's one number rule (``412.345,50``; ``250.000`` refused)."""
    if isinstance(value, str):
        from cloud.settlement.numbers import parse_amount

        return parse_amount(value)  # NumberError is a ValueError: a 422 naming both readings
    return value


Dkk = Annotated[
    Decimal,
    BeforeValidator(_danish_amount),
    Field(gt=0, max_digits=14, decimal_places=2, examples=["412345.50", "412.345,50"]),
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class HealthOut(_Out):
    status: str
    store: str
    alerts_db: str
    registry_buildings: int
    registry_flats: int


class AlertOut(_Out):
    id: str
    building: str
    flat: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    value: float
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    advice_da: str
    advice_en: str


class BuildingSummaryOut(_Out):
    id: str
    name: str
    flats: int
    area_m2: float
    heating_budget_dkk_per_month: float | None


class FlatOut(_Out):
    id: str
    area_m2: float
    floor: int
    position: tuple[Position, ...]
    position_factor: float
    frsi: float


class BuildingOut(_Out):
    id: str
    name: str
    area_m2: float
    heating_budget_dkk_per_month: float | None
    flats: list[FlatOut]
    gateways: list[str]


class FlatClimateOut(_Out):
    flat: str
    hours_with_data: int
    last_hour: datetime | None = None
    temperature_mean_c: float | None = None
    temperature_min_c: float | None = None
    temperature_max_c: float | None = None
    humidity_mean_pct: float | None = None
    humidity_max_pct: float | None = None
    co2_mean_ppm: float | None = None
    co2_max_ppm: float | None = None


class ClimateSummaryOut(_Out):
    building: str
    since: datetime
    until: datetime
    hours: int
    note: str
    flats: list[FlatClimateOut]


class FlatShareOut(_Out):
    flat: str
    share_pct: float
    estimated_ore: int
    estimated_dkk: Decimal
    coverage_pct: float


class HeatSharesOut(_Out):
    building: str
    month: str
    as_of: datetime
    """Data up to this time (whole days) went into the estimate."""
    expected_cost_dkk: Decimal
    """The building's monthly heating budget, split by the shares so far."""
    total_dkk: Decimal
    note: str
    flats: list[FlatShareOut]


class SettlementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_start: Month
    period_end: Month
    """Last month of the period (inclusive): 2025-10 .. 2026-04 is a heating season."""
    total_cost_dkk: Dkk
    bill_received: date | None = None
    """Date the final heating bill was received (printed on the statements)."""
    statement_date: date | None = None
    """Date of the statements; default today (Danish date), as ``indeklima settle``."""
    by: Annotated[str, Field(min_length=1, max_length=128)] = "finance"
    """Who drafts the run (name or initials, for the audit trail)."""
    corrects_run_id: Annotated[int | None, Field(ge=1)] = None
    """Make this run a correction of the approved run in force (needs ``reason``)."""
    reason: Annotated[str | None, Field(min_length=1, max_length=1000)] = None
    """Why the correction is made (printed on the statements)."""


class SignOffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=128)]
    """Who checks or approves (name or initials). The approver must not be the checker."""


class DeadlineOut(_Out):
    run_id: int
    state: str
    period: str
    statement_deadline: date
    deadline_state: str
    days_left: int
    warning: str | None


class SettlementRowOut(_Out):
    flat_id: str
    area_m2: float
    position_factor: float
    share_pct: float
    fixed_dkk: Decimal
    variable_dkk: Decimal
    amount_dkk: Decimal
    points: float
    coverage_pct: float
    aconto_dkk: Decimal
    balance_dkk: Decimal
    due_date: date
    instalments: int
    flags: list[str]


class SettlementRunOut(_Out):
    run_id: int
    building: str
    state: str
    period_start: datetime
    period_end: datetime
    cost_ore: int
    cost_dkk: Decimal
    total_ore: int
    total_dkk: Decimal
    tariff_version: str
    tariff_sha256: str
    input_sha256: str
    statement_date: date
    bill_received: date | None
    created_at: datetime
    created_by: str
    checked_by: str | None
    approved_by: str | None
    approved_at: datetime | None
    notes: list[str]
    flats: list[SettlementRowOut]
    links: dict[str, str]
    period: str = ""
    """The local months, ``2026-03`` or ``2025-10..2026-04``."""
    period_first_day: date | None = None
    period_last_day: date | None = None
    """Local (Copenhagen) first and last day, as on the statements."""
    supersedes: int | None = None
    """For a correction: the run it replaces."""
    reason: str | None = None
    statement_deadline: date | None = None
    """Last day for approved statements (4 months after the accounting year's end)."""
    deadline_state: str | None = None
    """met, late, open, due_soon or overdue (`cloud.settlement.deadline.DeadlineState`)."""
    deadline_warning: str | None = None
