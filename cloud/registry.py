"""Registry of buildings, flats and gateways: which gateway serves which flats.

Ingest refuses readings a gateway publishes for flats it does not serve. Kept as a TOML or JSON
file for now (``registry.toml``); the web app later moves it into its database.

Example::

    [[buildings]]
    id = "B1"
    name = "Tranehaven blok 1"
    heating_season_months = [1, 2, 3, 4, 5, 9, 10, 11, 12]

    [[buildings.flats]]
    id = "B1-01"
    area_m2 = 72.5
    floor = 0
    position = ["ground", "gable"]
    position_factor = 0.92

    [[gateways]]
    id = "gw-b1"
    building = "B1"
    flats = ["B1-01"]
"""

from __future__ import annotations

import json
import re
import tomllib
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cloud.settlement.names import short_hash, slug
from edge.wire import ID_PATTERN, normalise_flat_id

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""Building and gateway ids: safe in topics, URLs and tags (the wire's `ID_PATTERN`)."""


def _flat_id(value: object) -> object:
    return normalise_flat_id(value) if isinstance(value, str) else value


FlatIdentifier = Annotated[str, BeforeValidator(_flat_id), StringConstraints(strict=True)]
"""A flat id: text as people write it (``0101``, ``1,10``, ``Østergade 1/2 th``), NFC-normalised
and checked by the one rule, `edge.wire.flat_id_problem`. A number (``id = 101``) is refused:
ids are text, and ``0101`` must not become 101."""

_SAFE_KEY: Final = re.compile(ID_PATTERN)


def flat_key(flat_id: str) -> str:
    """The flat's URL key: the id itself when it is URL-safe (`ID_PATTERN`: ``0101``, ``B1-01``,
    so every existing URL keeps working), else the same slug + short hash the settlement's file
    names use (``Oestergade-1-2-th-3f2a9c1e``). A ``/`` cannot be a path segment (the server
    decodes ``%2F`` before routing), hence the key. Keys are unique in a registry (checked)."""
    return flat_id if _SAFE_KEY.match(flat_id) else f"{slug(flat_id)}-{short_hash(flat_id)}"


class Position(StrEnum):
    """Exposed positions lose more heat through no fault of the resident (DOMAIN.md)."""

    CORNER = "corner"
    GABLE = "gable"
    TOP = "top"
    GROUND = "ground"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Flat(_Model):
    id: FlatIdentifier
    area_m2: Annotated[float, Field(gt=0, le=1000)]
    floor: int = 0
    position: tuple[Position, ...] = ()
    position_factor: Annotated[float, Field(gt=0, le=2)] = 1.0
    """Multiplier on the flat's share of the fixed part: < 1 for exposed flats."""
    aconto_dkk: Annotated[float, Field(ge=0)] = 0.0
    frsi: Annotated[float, Field(gt=0, lt=1)] = 0.70
    """Temperature factor of the worst thermal bridge (DIN 4108-2 minimum 0.70)."""

    @property
    def key(self) -> str:
        """The flat in URLs (`flat_key`)."""
        return flat_key(self.id)


class Building(_Model):
    id: Identifier
    name: str = ""
    flats: list[Flat] = []
    heating_budget_dkk_per_month: Annotated[float | None, Field(gt=0)] = None
    """Expected heating cost of a month (the aconto budget): the jobs turn it into each flat's
    running share and estimated amount (measurement ``heat_share``); none → no estimate."""
    accounting_year_end_month: Annotated[int | None, Field(ge=1, le=12)] = None
    """Last month of the heating accounting year (e.g. 6 for 30 June); statements are due within
    4 months of its end. None: each settled period is its own accounting year."""

    @property
    def flat_ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.flats)


class Gateway(_Model):
    id: Identifier
    building: Identifier
    flats: list[FlatIdentifier]


class Registry(_Model):
    buildings: list[Building] = []
    gateways: list[Gateway] = []

    @model_validator(mode="after")
    def _consistent(self) -> Registry:
        buildings = {b.id: b for b in self.buildings}
        keys: dict[str, str] = {}
        for b in self.buildings:
            for f in b.flats:
                other = keys.setdefault(f.key, f.id)
                if other != f.id:
                    raise ValueError(
                        f"lejlighederne {other!r} og {f.id!r} får samme URL-nøgle {f.key!r}; "
                        f"omdøb den ene / flats {other!r} and {f.id!r} get the same URL key "
                        f"{f.key!r}; rename one of them"
                    )
        for gw in self.gateways:
            building = buildings.get(gw.building)
            if building is None:
                raise ValueError(f"gateway {gw.id} serves unknown building {gw.building}")
            unknown = sorted(set(gw.flats) - building.flat_ids)
            if unknown:
                raise ValueError(f"gateway {gw.id} serves flats {unknown} not in {gw.building}")
        return self

    def building(self, building_id: str) -> Building:
        for b in self.buildings:
            if b.id == building_id:
                return b
        raise KeyError(f"building {building_id!r} is not in the registry")

    @cached_property
    def _by_key(self) -> dict[str, tuple[Building, Flat]]:
        return {f.key: (b, f) for b in self.buildings for f in b.flats}

    def flat_by_key(self, key: str) -> tuple[Building, Flat] | None:
        """The (building, flat) whose URL key (`flat_key`) is `key`; None when none is."""
        return self._by_key.get(key)

    @cached_property
    def _served(self) -> dict[str, tuple[Gateway, frozenset[str]]]:
        return {gw.id: (gw, frozenset(gw.flats)) for gw in self.gateways}

    def gateway(self, gateway_id: str) -> Gateway | None:
        entry = self._served.get(gateway_id)
        return None if entry is None else entry[0]

    def serves(self, gateway_id: str, building: str, flat: str) -> bool:
        """Whether this gateway may publish readings for this building and flat."""
        entry = self._served.get(gateway_id)
        return entry is not None and entry[0].building == building and flat in entry[1]

    @classmethod
    def load(cls, path: Path) -> Registry:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return cls.model_validate(data)

    def dump_json(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
