"""The gateway's one settings object: a TOML file, overridable by ``INDEKLIMA_*`` env vars."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.wire import Identifier


class SensorKind(StrEnum):
    RUUVI = "ruuvi"  # RuuviTag DF5, Ruuvi Air DF6/E1 (company 0x0499)
    ARANET4 = "aranet4"
    BTHOME = "bthome"
    XIAOMI_ATC = "xiaomi_atc"  # LYWSD03MMC with ATC/pvvx firmware
    SCD30 = "scd30"
    SENSEAIR_S8 = "senseair_s8"
    MHZ19B = "mhz19b"


SERIAL_KINDS = frozenset({SensorKind.SCD30, SensorKind.SENSEAIR_S8, SensorKind.MHZ19B})
DEFAULT_MODBUS_ADDRESS: dict[SensorKind, int] = {
    SensorKind.SCD30: 0x61,  # Sensirion SCD30 Modbus interface description
    SensorKind.SENSEAIR_S8: 0xFE,  # Senseair TDE2067: 0xFE answers on any address
}
"""MH-Z19B has none: Winsen's 9-byte protocol has no bus address (one sensor per port)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SensorConfig(_Model):
    """Where one sensor sits. BLE sensors have ``address``; serial ones ``port`` (+ Modbus
    ``modbus_address``). Readings from devices not listed here are never stored."""

    id: Identifier
    kind: SensorKind
    building: Identifier
    flat: Identifier
    room: Identifier
    address: str | None = None
    bind_key: str | None = None
    """BTHome AES-CCM key (32 hex digits); a keyed device is never accepted in plaintext."""
    port: str | None = None
    modbus_address: Annotated[int | None, Field(ge=0, le=255)] = None
    baudrate: int | None = None
    poll_interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    expected_interval_s: Annotated[float, Field(gt=0, le=86400)] = 60.0
    """How often the sensor reports; the watchdog calls it silent after `silent_after` of these."""

    @model_validator(mode="after")
    def _transport(self) -> SensorConfig:
        if self.kind in SERIAL_KINDS:
            if not self.port:
                raise ValueError(f"sensor {self.id}: a {self.kind} sensor needs `port`")
            if self.modbus_address is None and self.kind in DEFAULT_MODBUS_ADDRESS:
                object.__setattr__(self, "modbus_address", DEFAULT_MODBUS_ADDRESS[self.kind])
        elif not self.address:
            raise ValueError(f"sensor {self.id}: a {self.kind} sensor needs its BLE `address`")
        if self.address is not None:
            object.__setattr__(self, "address", self.address.upper())
        return self

    @property
    def device(self) -> str:
        """The key drivers use in `Sample.device`."""
        if self.kind in SERIAL_KINDS:
            return f"{self.port}@{self.modbus_address or 0}"
        assert self.address is not None
        return self.address


class MqttConfig(_Model):
    url: str = "mqtt://127.0.0.1:1883"
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    """auto: MQTT 5 where the broker speaks it, else 3.1.1 (everything relied on is in the
    payload, so both work)."""
    username: str | None = None
    password: str | None = None
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_min_s: Annotated[float, Field(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0)] = 60.0


class OutboxConfig(_Model):
    path: Path = Path("outbox.sqlite")
    max_readings: Annotated[int, Field(ge=100)] = 2_000_000
    """Bound on the outbox; when full the oldest readings are dropped, counted and reported."""
    batch_max_readings: Annotated[int, Field(ge=1, le=5000)] = 500
    batch_max_age_s: Annotated[float, Field(gt=0)] = 2.0
    resend_after_s: Annotated[float, Field(gt=0)] = 30.0
    """Unconfirmed batches are re-sent with the same batch id after this long."""
    max_unconfirmed_batches: Annotated[int, Field(ge=1)] = 20


class WatchdogConfig(_Model):
    silent_after: Annotated[float, Field(gt=1)] = 5.0
    """A sensor is silent when not heard for this many expected intervals."""


class GatewayConfig(_Model):
    gateway_id: Identifier
    mqtt: MqttConfig = MqttConfig()
    outbox: OutboxConfig = OutboxConfig()
    watchdog: WatchdogConfig = WatchdogConfig()
    sensors: list[SensorConfig] = []
    status_interval_s: Annotated[float, Field(gt=0)] = 60.0

    @model_validator(mode="after")
    def _unique(self) -> GatewayConfig:
        seen: set[str] = set()
        for sensor in self.sensors:
            if sensor.device in seen:
                raise ValueError(f"device {sensor.device} is configured twice")
            seen.add(sensor.device)
        return self

    @classmethod
    def load(cls, path: Path, **overrides: Any) -> GatewayConfig:
        """Read a TOML file; raises ValueError naming the file and the bad setting."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"gateway config {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"gateway config {path} is not valid TOML: {exc}") from None
        data.update(overrides)
        return cls.model_validate(data)
