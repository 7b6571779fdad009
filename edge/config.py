"""The gateway's one settings object, read from a TOML file (``deploy/gateway.example.toml``).

msgspec Structs rather than pydantic models: the gateway already needs msgspec for the wire, and
pydantic cost the gateway ~9 MB of its 60 MB memory budget on a Raspberry Pi
(bench/bench_gateway.py). Unknown settings are refused; each bad value is named with its path.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta
from msgspec.structs import force_setattr

from edge.ventilation.settings import VentilationConfig
from edge.wire import FlatId, WireId, normalise_flat_id

_T = TypeVar("_T", bound="_Model")


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


class _Model(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    @classmethod
    def parse(cls: type[_T], data: Any) -> _T:
        """Validate plain data (a dict from TOML or JSON); raises ValueError with the path of
        the first bad setting."""
        try:
            return msgspec.convert(data, cls, dec_hook=_decode_path)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self, enc_hook=_encode_path), indent=2)


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")


def _encode_path(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


class SensorConfig(_Model, frozen=True):
    """Where one sensor sits. BLE sensors have ``address``; serial ones ``port`` (+ Modbus
    ``modbus_address``). Readings from devices not listed here are never stored."""

    id: WireId
    kind: SensorKind
    building: WireId
    flat: FlatId
    """Text as the registry writes it (``0101``, ``Østergade 1/2 th``; `edge.wire.FlatId`)."""
    room: WireId
    address: str | None = None
    bind_key: str | None = None
    """BTHome AES-CCM key (32 hex digits); a keyed device is never accepted in plaintext."""
    port: str | None = None
    modbus_address: Annotated[int, Meta(ge=0, le=255)] | None = None
    baudrate: int | None = None
    poll_interval_s: Annotated[float, Meta(gt=0, le=3600)] = 60.0
    expected_interval_s: Annotated[float, Meta(gt=0, le=86400)] = 60.0
    """How often the sensor reports; the watchdog calls it silent after `silent_after` of these."""

    def __post_init__(self) -> None:
        force_setattr(self, "flat", normalise_flat_id(self.flat))
        kind = SensorKind(self.kind)  # also when constructed in code with a plain string
        force_setattr(self, "kind", kind)
        if kind in SERIAL_KINDS:
            if not self.port:
                raise ValueError(f"sensor {self.id}: a {kind} sensor needs `port`")
            if self.modbus_address is None and kind in DEFAULT_MODBUS_ADDRESS:
                force_setattr(self, "modbus_address", DEFAULT_MODBUS_ADDRESS[kind])
        elif not self.address:
            raise ValueError(f"sensor {self.id}: a {kind} sensor needs its BLE `address`")
        if self.address is not None:
            force_setattr(self, "address", self.address.upper())

    @property
    def device(self) -> str:
        """The key drivers use in `Sample.device`."""
        if self.kind in SERIAL_KINDS:
            return f"{self.port}@{self.modbus_address or 0}"
        assert self.address is not None
        return self.address


class MqttConfig(_Model, frozen=True):
    url: str = "mqtt://127.0.0.1:1883"
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    """auto: MQTT 5 where the broker speaks it, else 3.1.1 (everything relied on is in the
    payload, so both work)."""
    username: str | None = None
    password: str | None = None
    keepalive_s: Annotated[int, Meta(ge=5, le=3600)] = 30
    reconnect_min_s: Annotated[float, Meta(gt=0)] = 0.5
    reconnect_max_s: Annotated[float, Meta(gt=0)] = 60.0


class OutboxConfig(_Model, frozen=True):
    path: Path = Path("outbox.sqlite")
    max_readings: Annotated[int, Meta(ge=100)] = 2_000_000
    """Bound on the outbox; when full the oldest readings are dropped, counted and reported."""
    batch_max_readings: Annotated[int, Meta(ge=1, le=5000)] = 500
    batch_max_age_s: Annotated[float, Meta(gt=0)] = 2.0
    resend_after_s: Annotated[float, Meta(gt=0)] = 30.0
    """Unconfirmed batches are re-sent with the same batch id after this long."""
    max_unconfirmed_batches: Annotated[int, Meta(ge=1)] = 20


class WatchdogConfig(_Model, frozen=True):
    silent_after: Annotated[float, Meta(gt=1)] = 5.0
    """A sensor is silent when not heard for this many expected intervals."""


class BleConfig(_Model, frozen=True):
    """The Bluetooth adapter (``[ble]``). See `edge.sensors.ble.scanning` for what passive
    scanning needs from BlueZ."""

    adapter: Annotated[str, Meta(pattern=r"^hci[0-9]{1,3}$")] = "hci0"
    scanning: Literal["auto", "passive", "active"] = "auto"
    """auto: passive where BlueZ has the advertisement monitor API, else active (logged);
    passive: never fall back; active: never try passive."""
    silent_after_s: Annotated[float, Meta(ge=60, le=86400)] = 900.0
    """No advert from any configured BLE sensor for this long: the adapter has stopped
    delivering — restart the scan, then reset the adapter (bounded by ``max_resets``)."""
    max_resets: Annotated[int, Meta(ge=0, le=100)] = 3
    """Adapter resets (bluetooth-auto-recovery) in a row while it stays silent; then only
    restarts, and the status says so."""
    retry_max_s: Annotated[float, Meta(ge=1, le=3600)] = 300.0
    """Longest wait between attempts while the adapter is unavailable (capped backoff)."""


class GatewayConfig(_Model, frozen=True):
    gateway_id: WireId
    mqtt: MqttConfig = msgspec.field(default_factory=MqttConfig)
    outbox: OutboxConfig = msgspec.field(default_factory=OutboxConfig)
    watchdog: WatchdogConfig = msgspec.field(default_factory=WatchdogConfig)
    ble: BleConfig = msgspec.field(default_factory=BleConfig)
    sensors: list[SensorConfig] = msgspec.field(default_factory=list)
    status_interval_s: Annotated[float, Meta(gt=0)] = 60.0
    ventilation: VentilationConfig | None = None
    """Motorised ventilation windows driven by the gateway (edge/ventilation/)."""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for sensor in self.sensors:
            if sensor.device in seen:
                raise ValueError(f"device {sensor.device} is configured twice")
            seen.add(sensor.device)

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
        try:
            return cls.parse(data)
        except ValueError as exc:
            raise ValueError(f"gateway config {path}: {exc}") from None
