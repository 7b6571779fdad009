"""The settlement tariff: a versioned TOML file validated with pydantic.

The tariff fixes every number that decides who pays what, so a run records its ``version`` and
:func:`tariff_sha256` (a hash of the validated values, not of the file's comments). The default
ships as ``default_tariff.toml`` next to this module and is explained in ``TARIFF.md``.
"""

from __future__ import annotations

import hashlib
import tomllib
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class Method(StrEnum):
    """How the variable share is split."""

    DEGREE_HOURS = "degree_hours"
    BAND_HOURS = "band_hours"
    AREA = "area"
    """Conventional fallback: everything by area x position factor."""
    HCA = "hca"
    """Conventional fallback: variable share by heat-cost-allocator units x position factor."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DegreeHours(_Model):
    floor_c: Annotated[float, Field(ge=10, le=25)] = 19.0
    """A flat held colder than this pays as if at it: it is heated by its neighbours."""
    outdoor_heating_limit_c: Annotated[float, Field(ge=5, le=25)] = 17.0
    """Hours with outdoor temperature at or above this carry no points (DMI degree-day base)."""


class Airing(_Model):
    enabled: bool = True
    allowance_h_per_day: Annotated[float, Field(ge=0, le=24)] = 0.5
    equivalent_area_m2: Annotated[float, Field(ge=0, le=1000)] = 50.0
    detect_temp_drop_k_per_h: Annotated[float, Field(gt=0)] = 2.0
    detect_co2_drop_ppm_per_h: Annotated[float, Field(gt=0)] = 300.0


class BandHours(_Model):
    base_weight: Annotated[float, Field(ge=0)] = 1.0
    temperature_min_c: float = 19.0
    temperature_max_c: float = 22.0
    humidity_min_pct: Annotated[float, Field(ge=0, le=100)] = 30.0
    humidity_max_pct: Annotated[float, Field(ge=0, le=100)] = 60.0
    co2_max_ppm: Annotated[float, Field(gt=0)] = 1200.0
    weight_too_warm: Annotated[float, Field(ge=0)] = 1.0
    weight_too_cold: Annotated[float, Field(ge=0)] = 0.5
    weight_too_humid: Annotated[float, Field(ge=0)] = 0.5
    weight_too_dry: Annotated[float, Field(ge=0)] = 0.25
    weight_high_co2: Annotated[float, Field(ge=0)] = 0.25

    @model_validator(mode="after")
    def _bands_ordered(self) -> BandHours:
        if self.temperature_min_c >= self.temperature_max_c:
            raise ValueError("band_hours: temperature_min_c must be below temperature_max_c")
        if self.humidity_min_pct >= self.humidity_max_pct:
            raise ValueError("band_hours: humidity_min_pct must be below humidity_max_pct")
        return self


class MissingData(_Model):
    interpolate_max_h: Annotated[int, Field(ge=0, le=48)] = 3
    low_coverage_pct: Annotated[float, Field(ge=0, le=100)] = 80.0


class Payment(_Model):
    due_months_after_statement: Annotated[int, Field(ge=0, le=12)] = 3
    instalment_threshold_rent_months: Annotated[float, Field(gt=0)] = 3.0
    instalment_count: Annotated[int, Field(ge=1, le=60)] = 12
    objection_weeks: Annotated[int, Field(ge=1)] = 6
    complaints_body: str = "Beboerklagenævnet i din kommune"


class Tariff(_Model):
    version: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    method: Method = Method.DEGREE_HOURS
    fixed_share: Annotated[float, Field(ge=0, le=0.6)] = 0.45
    """f. At most 0.6: Danish practice distributes at least 40 % by consumption."""
    area_definition: str = "BBR-boligareal"
    heating_season_months: tuple[Annotated[int, Field(ge=1, le=12)], ...] = (
        1,
        2,
        3,
        4,
        5,
        9,
        10,
        11,
        12,
    )
    degree_hours: DegreeHours = DegreeHours()
    airing: Airing = Airing()
    band_hours: BandHours = BandHours()
    missing_data: MissingData = MissingData()
    payment: Payment = Payment()


class TariffError(ValueError):
    """The tariff file cannot be used; the message says which value and how to fix it."""


def tariff_sha256(tariff: Tariff) -> str:
    """SHA-256 of the tariff's validated values as canonical JSON (comments do not count)."""
    return hashlib.sha256(tariff.model_dump_json().encode("utf-8")).hexdigest()


def parse_tariff(text: str, source: str = "<tariff>") -> Tariff:
    """Validate a tariff from TOML text; errors name the file and the field (Danish, English)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(
            f"Tariffen {source} er ikke gyldig TOML: {exc} / "
            f"the tariff {source} is not valid TOML: {exc}"
        ) from exc
    try:
        return Tariff.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise TariffError(
            f"Tariffen {source} har ugyldige værdier ({problems}) – ret filen / "
            f"the tariff {source} has invalid values ({problems}) – fix the file"
        ) from exc


def load_tariff(path: Path) -> Tariff:
    return parse_tariff(path.read_text(encoding="utf-8"), str(path))


def default_tariff() -> Tariff:
    """The tariff shipped in ``default_tariff.toml``."""
    text = resources.files(__package__).joinpath("default_tariff.toml").read_text("utf-8")
    return parse_tariff(text, "default_tariff.toml")
