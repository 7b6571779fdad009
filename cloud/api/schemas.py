"""Request and response bodies (pydantic at the boundary). Money is a decimal string in kroner
(``"1234.56"``, exact) next to integer øre where it is summed."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from cloud.accounts import Role, ScopeKind
from cloud.analytics.alerts import AlertKind, AlertState, Severity
from cloud.api.deps import Month
from cloud.registry import Position


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
    key: str
    """The flat in URLs (``/api/flats/{key}/…``): its id when URL-safe, else a slug + hash."""
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
    withheld: list[str] = []
    """Flats left out: their residents have not consented to staff seeing details."""


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
    corrects_run_id: Annotated[int | None, Field(ge=1, le=2**31 - 1)] = None
    """Make this run a correction of the approved run in force (needs ``reason``)."""
    reason: Annotated[str | None, Field(min_length=1, max_length=1000)] = None
    """Why the correction is made (printed on the statements)."""
    by: Annotated[str | None, Field(max_length=128)] = None
    """Not accepted: the name on the run is the logged-in user's."""

    @field_validator("by")
    @classmethod
    def _no_typed_names(cls, value: str | None) -> str | None:
        return _refuse_by(value)


BY_REFUSED = (
    "'by' bruges ikke længere: navnet på kørslen er den indloggede brugers; udelad feltet / "
    "'by' is no longer accepted: the name on the run is the logged-in user's; leave it out"
)


def _refuse_by(value: str | None) -> str | None:
    if value is not None:
        raise ValueError(BY_REFUSED)
    return value


class SignOffRequest(BaseModel):
    """Optional body of check and approve; the person is the logged-in user."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[str | None, Field(max_length=128)] = None
    """Not accepted: the checker or approver is the logged-in user."""

    @field_validator("by")
    @classmethod
    def _no_typed_names(cls, value: str | None) -> str | None:
        return _refuse_by(value)


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
    key: str
    """The flat in the statement's URL (``links.statement_pdf`` with ``{key}``)."""
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


# -- people, flats, consent, audit ------------------------------------------------------------


class TokenOut(_Out):
    access_token: str
    token_type: str
    expires_in: int
    """Seconds until the token expires (then log in again)."""


class MyFlatOut(_Out):
    building: str
    flat: str
    key: str
    """The flat in URLs (``/api/flats/{key}/…``)."""


class MeOut(_Out):
    username: str
    display_name: str
    role: Role
    flats: list[MyFlatOut]
    buildings: list[str]
    organisations: list[str]


class FlatListOut(_Out):
    id: str
    key: str
    """The flat in URLs (``/api/flats/{key}/…``): its id when URL-safe, else a slug + hash."""
    building: str
    area_m2: float
    floor: int
    staff_detail_consent: bool | None
    """Whether the residents let staff see detailed readings (None for an admin)."""


class ReadingOut(_Out):
    time: datetime
    room: str
    sensor: str
    temperature_c: float | None
    humidity_pct: float | None
    co2_ppm: float | None


class FlatClimateDetailOut(_Out):
    flat: str
    building: str
    start: datetime
    end: datetime
    readings: list[ReadingOut]


class ComfortOut(_Out):
    intervals: int
    share_level_1: float
    share_level_2: float
    share_level_3: float
    share_level_4: float
    light: str | None
    """green / yellow / red (cloud.analytics.comfort); None without readings."""


class MouldOut(_Out):
    mould_index_max: float | None
    """Highest VTT mould index of the flat's rooms this month (0 none … 6 heavy growth)."""
    risk: str
    """lav/low (M < 1), forhøjet/elevated (1 ≤ M < 3), høj/high (M ≥ 3: visible growth),
    ukendt/unknown (no mould series)."""


class OpenAlertOut(_Out):
    kind: AlertKind
    severity: Severity


class SensorHealthOut(_Out):
    room: str
    sensor: str
    last_seen: datetime
    readings: int
    silent: bool
    """No reading in the last hour of the month (or of now, for the current month)."""


class MonthlyOut(_Out):
    flat: str
    building: str
    month: str
    readings: int
    temperature_mean_c: float | None
    humidity_mean_pct: float | None
    co2_mean_ppm: float | None
    comfort: ComfortOut
    mould: MouldOut
    open_alerts: list[OpenAlertOut]
    sensors: list[SensorHealthOut]


class FlatHeatShareOut(_Out):
    flat: str
    building: str
    month: str
    as_of: datetime
    share_pct: float
    estimated_ore: int
    estimated_dkk: Decimal
    coverage_pct: float
    note: str


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_detail: bool
    """True: the building's staff may see the flat's detailed readings."""


class ConsentEventOut(_Out):
    staff_detail: bool
    at: datetime
    by: str | None


class ConsentOut(_Out):
    flat: str
    staff_detail: bool
    since: datetime | None
    history: list[ConsentEventOut]
    """Grants and withdrawals, oldest first (only the flat's residents see it)."""


class ReadingSpanOut(_Out):
    """A flat's readings in local (Europe/Copenhagen) dates ``first_day``..``last_day``."""

    building: str
    flat: str
    first_day: date
    last_day: date
    start: datetime
    end: datetime
    because: str | None
    """Why kept: ``approved_settlement`` (bogføringsloven § 10, 5 years) or ``co_resident``
    (another resident lived in the flat); null for a deleted span."""


class ErasureOut(_Out):
    id: int
    username: str
    requested_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    kept: list[str]
    """What is kept, and why (the law requires it)."""
    deleted: list[str]
    readings_deleted: list[ReadingSpanOut] = []
    """Once completed: the flat readings deleted."""
    readings_kept: list[ReadingSpanOut] = []
    """Once completed: the requester's flat readings kept, each with ``because``."""


class UserOut(_Out):
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime
    flats: list[str]
    buildings: list[str]
    organisations: list[str]


Username = Annotated[
    str, Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
]
Password = Annotated[str, Field(min_length=1, max_length=256)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    role: Role
    password: Password
    display_name: Annotated[str, Field(max_length=200)] | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class DisabledIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool


class ScopeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["building", "organisation", "flat"]
    id: Annotated[str, Field(min_length=1, max_length=64)]

    def scope_kind(self) -> ScopeKind | None:
        return None if self.kind == "flat" else ScopeKind(self.kind)


class AuditOut(_Out):
    id: int
    at: datetime
    username: str | None
    action: str
    flat: str | None
    building: str | None
    run_id: int | None
    address: str | None
    detail: dict[str, Any]


class GatewayHealthOut(_Out):
    """A gateway's latest status as the cloud stored it (cloud/gateway_status.py)."""

    gateway: str
    flats: int
    online: bool | None
    """The latest status's word (false after the broker's last will); null: none in 31 days."""
    last_seen: datetime | None
    """When the gateway last sent a status of its own (its clock, UTC)."""
    stale: bool
    """Offline, never heard, or the last status older than ``stale_after_s``."""
    stale_after_s: int
    outbox_pending: int | None
    """Readings in the gateway's outbox not yet confirmed by ingest."""
    outbox_dropped: int | None
    """Readings dropped because the outbox was full (oldest first), since it was made."""
    window_states_dropped: int | None
    sensors: int | None
    sensors_silent: int | None
    silent_sensors: list[str]
    ble_state: str | None
    ble_reason: str | None
