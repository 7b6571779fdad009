"""The wire contract between gateways and the cloud — the one copy both sides import.

Topics (MQTT 3.1.1 and 5; see DESIGN.md "Contracts that both sides share")::

    indeklima/v1/gw/<gateway-id>/readings            batches of readings, QoS 1
    indeklima/v1/gw/<gateway-id>/status              retained; last will = offline
    indeklima/v1/gw/<gateway-id>/ack                 ingest -> gateway: batches and states stored
    indeklima/v1/gw/<gateway-id>/alerts              gateway health alerts (sensor silent, ...)
    indeklima/v1/gw/<gateway-id>/windows/<id>/state  window decisions, outcomes, positions; QoS 1
    indeklima/v1/gw/<gateway-id>/windows/<id>/cmd    cloud -> gateway, expiry in the payload
    indeklima/v1/gw/<gateway-id>/config              retained set points, cloud -> gateway

Payloads are JSON (orjson) with a schema version ``v``. Everything the system relies on
(batch ids, command expiry) is carried in the payload so that MQTT 3.1.1 brokers work too.
Readings carry the measured time as integer UTC epoch milliseconds (``time_ms``), set at the
gateway; quantities carry their unit in their name (``temperature_c``, ``co2_ppm``, ...).

Versions: every payload says ``v``; a payload of another version is refused with the reason. Within
a version a message may only gain *optional* fields (default: absent), so a cloud of this version
reads what older gateways send and an older gateway is never sent a field it does not know (an
ack names window states only to gateways that numbered theirs, `WindowState.seq`). Upgrade the
cloud before the gateways: an older ingest refuses a field it does not know (dead letter) — a
gateway keeps such unacknowledged window states and re-sends them until a current ingest stores
them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Final, Literal, TypeVar, get_args

import msgspec

SCHEMA_VERSION: Final = 1
TOPIC_ROOT: Final = "indeklima/v1"
SHARED_GROUP: Final = "ingest"
MAX_MESSAGE_BYTES: Final = 1_048_576
"""Messages larger than this are dead-lettered unread (and refused by the gateway)."""
MAX_BATCH_READINGS: Final = 5_000
EARLIEST_TIME_MS: Final = 946_684_800_000  # 2000-01-01T00:00:00Z: anything older is a clock fault

Quantity = Literal[
    "temperature_c",
    "humidity_pct",
    "co2_ppm",
    "pressure_hpa",
    "battery_mv",
    "battery_pct",
    "pm1_ugm3",
    "pm25_ugm3",
    "pm4_ugm3",
    "pm10_ugm3",
    "voc_index",
    "nox_index",
    "illuminance_lux",
    "surface_temperature_c",
    "window_open_pct",
    "rssi_dbm",
]
QUANTITIES: Final[frozenset[str]] = frozenset(get_args(Quantity))
"""Every quantity a reading may carry. Units are in the names; adding one is a schema change."""

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
WireId = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
"""Gateway, building, room, sensor and window ids (msgspec): safe in topics, URLs and tags."""

FLAT_ID_MAX: Final = 64
_FLAT_CHAR: Final = r"[^\x00-\x1f\x7f-\x9f\\]"
_FLAT_END: Final = r"[^\s\x00-\x1f\x7f-\x9f\\]"
FLAT_ID_PATTERN: Final = rf"^{_FLAT_END}(?:{_FLAT_CHAR}{{0,62}}{_FLAT_END})?$"
"""Flat ids are text as people write them (``0101``, ``1,10``, ``Østergade 1/2 th``): 1-64
characters, no control characters, no backslash (InfluxDB line protocol cannot carry one in a
tag), no whitespace at either end. `flat_id_problem` adds what a pattern cannot say (printable,
NFC). Flats never appear in MQTT topics (only gateway and window ids do), and URLs use the flat's
key (`cloud.registry.flat_key`), so ``/``, ``+``, ``#``, ``,`` and spaces are all fine."""
FlatId = Annotated[str, msgspec.Meta(pattern=FLAT_ID_PATTERN)]
"""A flat id in msgspec structs (wire and gateway settings); check NFC with `flat_id_problem`."""


def flat_id_problem(value: str) -> str | None:
    """Why `value` cannot be a flat id (Danish / English, saying what to do), or None.

    The one rule for flat ids, used by the registry, the gateway's settings, ingest, the API and
    the settlement files: printable Unicode (letters of any language, digits, spaces,
    punctuation), 1-64 characters, NFC-normalised (``å`` as one character, as keyboards type
    it), no backslash, no whitespace at either end."""
    if not value or not value.strip():
        return (
            "lejlighedens id er tomt eller kun mellemrum; skriv fx 0101 / the flat id is empty "
            "or only spaces; write e.g. 0101"
        )
    if len(value) > FLAT_ID_MAX:
        return (
            f"lejlighedens id {value[:20]!r}… har {len(value)} tegn; højst {FLAT_ID_MAX} / the "
            f"flat id {value[:20]!r}… has {len(value)} characters; at most {FLAT_ID_MAX}"
        )
    if value != value.strip():
        return (
            f"lejlighedens id {value!r} begynder eller slutter med mellemrum; fjern dem / the "
            f"flat id {value!r} starts or ends with whitespace; remove it"
        )
    bad = next((ch for ch in value if ch == "\\" or (ch != " " and not ch.isprintable())), None)
    if bad is not None:
        return (
            f"lejlighedens id {value!r} indeholder tegnet {bad!r} (U+{ord(bad):04X}), som ikke "
            f"kan bruges (kontroltegn, usynlige tegn og \\); fjern det / the flat id {value!r} "
            f"contains {bad!r} (U+{ord(bad):04X}), which cannot be used (control characters, "
            "invisible characters and \\); remove it"
        )
    if unicodedata.normalize("NFC", value) != value:
        return (
            f"lejlighedens id {value!r} er ikke NFC-normaliseret (fx å skrevet som a + ring); "
            f"skriv det som {unicodedata.normalize('NFC', value)!r} / the flat id {value!r} is "
            "not NFC-normalised (e.g. å written as a + a combining ring); write it as "
            f"{unicodedata.normalize('NFC', value)!r}"
        )
    return None


def normalise_flat_id(value: str) -> str:
    """`value` in NFC, checked: raises ValueError with `flat_id_problem`'s reason."""
    normal = unicodedata.normalize("NFC", value)
    why = flat_id_problem(normal)
    if why is not None:
        raise ValueError(why)
    return normal


_M = TypeVar("_M", bound=msgspec.Struct)


class WireError(ValueError):
    """A payload that can never be accepted; ``reason`` is what goes into the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Wire messages are msgspec Structs: decoded and validated strictly in one pass, at several
# times the rate of pydantic here, which matters at 100k readings/s (bench/bench_ingest.py).


class Reading(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One sensor's sample at one time. The store key is (building, flat, room, sensor, time).

    ``gc=False``: readings hold only strings, numbers and a dict of floats, so they can never be
    part of a reference cycle and need no tracking by the cycle collector. Ingest holds tens of
    thousands at once; untracked, decoding a batch takes half the time (collector passes over
    live readings were half the cost; bench/bench_ingest.py,
    https://jcristharif.com/msgspec/structs.html#disabling-garbage-collection-advanced)."""

    time_ms: Annotated[int, msgspec.Meta(ge=EARLIEST_TIME_MS)]
    building: str
    flat: str
    room: str
    sensor: str
    """Building, room and sensor match `ID_PATTERN`, the flat the flat id rule
    (`flat_id_problem`); `invalid_ids` checks them. (Decoding does not:
    a regex per id per reading halved ingest's rate; ingest checks each distinct id once.)"""
    values: Annotated[dict[Quantity, float], msgspec.Meta(min_length=1)]
    """At least one known quantity. Decoding checks names and types in C; JSON cannot carry
    NaN or infinities (msgspec refuses 1e999), and the gateway drops non-finite values."""
    flags: tuple[str, ...] = ()
    """Plausibility flags set at the gateway (``out_of_range:co2_ppm``, ``stuck:...``)."""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.time_ms / 1000, tz=UTC)


class ReadingsBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: Literal[1]
    gateway: WireId
    batch_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    readings: Annotated[list[Reading], msgspec.Meta(min_length=1, max_length=MAX_BATCH_READINGS)]


MAX_ACK_STATES: Final = 100_000


class Ack(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """End-to-end acknowledgement: these readings batches and window state messages are in the
    store (or, if they could never be stored, in the dead letters) and may leave the outbox."""

    v: Literal[1]
    batch_ids: list[str]
    states: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(max_length=MAX_ACK_STATES)
    ] = []
    """`WindowState.seq` of the acknowledged window state messages. Omitted when empty, so an
    ack for readings only is what gateways from before numbered states know."""


class SensorHealth(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    sensor: str
    last_seen_ms: int | None
    silent: bool
    battery_mv: float | None = None
    battery_pct: float | None = None
    """The last battery level the sensor reported: volts where it says them (Ruuvi, ATC),
    percent where it says that (Aranet4, BTHome, ATC); None where it says neither (mains)."""
    problem: str | None = None
    """Why its adverts carry no readings (``smart_home_off``, ``wrong_key``, …), if so."""


BleState = Literal["starting", "scanning", "silent", "unavailable"]


class BleHealth(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The gateway's Bluetooth adapter: scanning (and how), silent (no advert from any
    configured sensor for a while: being restarted/reset), or unavailable (with the reason)."""

    adapter: str
    state: BleState
    mode: Literal["passive", "active"] | None = None
    reason: str | None = None
    since_ms: int | None = None
    restarts: int = 0
    resets: int = 0
    bluez: str | None = None
    """BlueZ's version where known (passive scanning needs ≥ 5.56 with experimental on)."""


class GatewayStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    v: Literal[1]
    gateway: WireId
    online: bool
    time_ms: int
    outbox_pending: int = 0
    outbox_dropped: int = 0
    """Readings dropped because the outbox was full (oldest first), since the outbox was made."""
    sensors: list[SensorHealth] = []
    ble: BleHealth | None = None
    """None on a gateway without BLE sensors."""
    window_states_dropped: int = 0
    """Window state messages the gateway dropped undelivered, since its outbox was made: the
    oldest first when its bounded on-disk queue (``[ventilation] state_queue_max``) was full,
    plus any it could not write to disk."""


_ID_RE: Final = re.compile(ID_PATTERN)


def invalid_ids(reading: Reading) -> str | None:
    """Why a reading's ids are unusable (None when they are fine): the flat's by the flat id
    rule (`flat_id_problem`), the others by `ID_PATTERN`."""
    for name in ("building", "room", "sensor"):
        value = getattr(reading, name)
        if not _ID_RE.match(value):
            return f"{name} id {value!r} is not a valid identifier ({ID_PATTERN})"
    return flat_id_problem(reading.flat)


def _topic(gateway: str, *parts: str) -> str:
    return "/".join((TOPIC_ROOT, "gw", gateway, *parts))


def readings_topic(gateway: str) -> str:
    return _topic(gateway, "readings")


def status_topic(gateway: str) -> str:
    return _topic(gateway, "status")


def ack_topic(gateway: str) -> str:
    return _topic(gateway, "ack")


def alerts_topic(gateway: str) -> str:
    return _topic(gateway, "alerts")


def config_topic(gateway: str) -> str:
    return _topic(gateway, "config")


def window_state_topic(gateway: str, window: str) -> str:
    return _topic(gateway, "windows", window, "state")


def window_cmd_topic(gateway: str, window: str) -> str:
    return _topic(gateway, "windows", window, "cmd")


INGEST_SUBSCRIPTION: Final = f"$share/{SHARED_GROUP}/{TOPIC_ROOT}/gw/+/readings"
"""Ingest processes share this subscription: the broker hands each message to one of them."""

_READINGS_TOPIC_RE: Final = re.compile(rf"^{re.escape(TOPIC_ROOT)}/gw/([^/]+)/readings$")


def gateway_of_readings_topic(topic: str) -> str:
    """The gateway id in a readings topic (the broker's ACL ties it to the client's user)."""
    match = _READINGS_TOPIC_RE.match(topic)
    if match is None:
        raise WireError(f"topic {topic!r} is not a readings topic ({readings_topic('<gateway>')})")
    return match.group(1)


STATUS_SUBSCRIPTION: Final = f"$share/{SHARED_GROUP}/{TOPIC_ROOT}/gw/+/status"
"""Ingest stores each gateway's status (retained, last will = offline) for the health page."""

_STATUS_TOPIC_RE: Final = re.compile(rf"^{re.escape(TOPIC_ROOT)}/gw/([^/]+)/status$")


def gateway_of_status_topic(topic: str) -> str | None:
    """The gateway id of a status topic, None for any other topic."""
    match = _STATUS_TOPIC_RE.match(topic)
    return None if match is None else match.group(1)


# -- ventilation windows ------------------------------------------------------------------------
MAX_COMMAND_LIFETIME_MS: Final = 24 * 3600 * 1000
"""A command may live at most a day; one that claims more is refused."""


class WindowCommand(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Cloud → gateway on ``…/windows/<id>/cmd``: a technician's one-off command. Expiry and the
    correlation id travel in the payload (MQTT 5 message expiry is set in addition)."""

    v: Literal[1]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    """Correlation id: the gateway's outcome names it."""
    window: WireId
    action: Literal["open", "close", "release"]
    issued_ms: Annotated[int, msgspec.Meta(ge=EARLIEST_TIME_MS)]
    expires_ms: Annotated[int, msgspec.Meta(ge=EARLIEST_TIME_MS)]
    target_pct: Annotated[float, msgspec.Meta(gt=0, le=100)] = 100.0
    hold_s: Annotated[float, msgspec.Meta(ge=60, le=86_400)] = 3600.0
    """How long the override holds; then the window returns to automatic."""
    by: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    """Who sent it (for the audit trail)."""


class SetpointScope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where set points apply: a building, a flat of it, or a room of that flat."""

    building: WireId
    flat: FlatId | None = None
    room: WireId | None = None
    values: dict[str, object] = {}
    """Set point name → value (checked on the gateway, edge.ventilation.settings.Setpoints)."""


class SetpointsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Cloud → gateway, retained on ``…/config``: the whole set point configuration."""

    v: Literal[1]
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    """Version id of this configuration; the gateway's verdict names it."""
    scopes: Annotated[list[SetpointScope], msgspec.Meta(max_length=10_000)] = []
    by: Annotated[str, msgspec.Meta(max_length=128)] | None = None


WindowStateKind = Literal["decision", "position", "command", "config"]


class WindowState(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Gateway → cloud on ``…/windows/<id>/state``: what the controller decided and why, where the
    window is, the outcome of a command or of a set point configuration."""

    v: Literal[1]
    gateway: WireId
    window: WireId
    building: WireId
    flat: FlatId
    room: WireId
    time_ms: Annotated[int, msgspec.Meta(ge=EARLIEST_TIME_MS)]
    kind: WindowStateKind
    commanded_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    """kind decision: the opening sent to the controller (only when it moves it)."""
    travel_s: Annotated[float, msgspec.Meta(gt=0, le=600)] | None = None
    reported_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    """kind position: the opening the controller reports."""
    fault: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    rule: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    tier: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    target_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    text_da: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    text_en: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    ref: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    """kind command/config: the command's correlation id or the configuration's id."""
    outcome: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    seq: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """The gateway's delivery number (its outbox's, increasing per gateway; kept across
    re-sends). Ingest names it in `Ack.states` once the message is stored, and only then does the
    gateway forget it; the store key uses it so a re-sent message overwrites itself
    (cloud/window_state.py). None from gateways before end-to-end acked states (no ack)."""


STATE_SUBSCRIPTION: Final = f"$share/{SHARED_GROUP}/{TOPIC_ROOT}/gw/+/windows/+/state"
_STATE_TOPIC_RE: Final = re.compile(rf"^{re.escape(TOPIC_ROOT)}/gw/([^/]+)/windows/([^/]+)/state$")


def window_of_state_topic(topic: str) -> tuple[str, str] | None:
    """(gateway, window) of a window state topic, None for any other topic."""
    match = _STATE_TOPIC_RE.match(topic)
    return None if match is None else (match.group(1), match.group(2))


_command_decoder: Final = msgspec.json.Decoder(WindowCommand)
_setpoints_decoder: Final = msgspec.json.Decoder(SetpointsConfig)
_state_decoder: Final = msgspec.json.Decoder(WindowState)


def _decode_small(decoder: msgspec.json.Decoder[_M], payload: bytes, what: str) -> _M:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"{what}: oversize: {len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        return decoder.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"{what}: {exc}") from None


def decode_window_command(payload: bytes) -> WindowCommand:
    return _decode_small(_command_decoder, payload, "window command")


def decode_setpoints(payload: bytes) -> SetpointsConfig:
    return _decode_small(_setpoints_decoder, payload, "set points")


def decode_window_state(payload: bytes) -> WindowState:
    return _decode_small(_state_decoder, payload, "window state")


_status_decoder: Final = msgspec.json.Decoder(GatewayStatus)


def decode_status(payload: bytes) -> GatewayStatus:
    return _decode_small(_status_decoder, payload, "gateway status")


_batch_decoder: Final = msgspec.json.Decoder(ReadingsBatch)
_ack_decoder: Final = msgspec.json.Decoder(Ack)
_encoder: Final = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode_batch(payload: bytes) -> ReadingsBatch:
    """Validate a readings payload strictly; raise `WireError` with a dead-letter reason."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"oversize: {len(payload)} bytes > {MAX_MESSAGE_BYTES}")
    try:
        return _batch_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        error = str(exc)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    # Only bad input gets here: say the most useful reason. (A string that is not UTF-8 reaches
    # this point as a type error above and fails only now, as UnicodeDecodeError.)
    try:
        head = msgspec.json.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise WireError(f"malformed JSON: {exc}") from None
    if not isinstance(head, dict):
        raise WireError("malformed: payload is not a JSON object")
    version = head.get("v")
    if version != SCHEMA_VERSION:
        raise WireError(f"wrong schema version {version!r}; this ingest speaks v{SCHEMA_VERSION}")
    raise WireError(f"schema: {error}")


def decode_ack(payload: bytes) -> Ack:
    """Validate an ack strictly; raise `WireError` with the reason (the gateway logs it)."""
    return _decode_small(_ack_decoder, payload, "ack")
