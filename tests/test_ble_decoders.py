"""BLE advertisement decoders against the vendors' published vectors.

Tolerances are the formats' resolutions: `ruuvitag-ble` rounds Ruuvi temperatures to 0.01 °C
(the format steps in 0.005 °C) and DF6 light to whole lux.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.sensors.ble import (
    BleFormat,
    Decoded,
    DecodeError,
    DecodeReason,
    RawAdvert,
    decode,
    uuid16_to_128,
)

ADDR = "C4:7C:8D:6A:01:02"
BTHOME = uuid16_to_128(0xFCD2)
ENV = uuid16_to_128(0x181A)
KEY = bytes.fromhex("231d39c1d7cc1ab1aee224cd096db932")
KEY_MAC = "54:48:E6:8F:80:A5"

DF5_URL = "https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-5-rawv2"
DF5_MIN_URL = "https://github.com/ruuvi/ruuvi-sensor-protocols/issues/30 (corrected min vector)"
DF6_URL = "https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-6"
E1_URL = "https://docs.ruuvi.com/communication/bluetooth-advertisements/data-format-e1"
ARANET_URL = "https://github.com/Anrijs/Aranet4-Python/blob/master/tests/test_advertisements.py"
BTHOME_URL = "https://bthome.io/format/"
BTHOME_ENC_URL = "https://bthome.io/encryption/"
BTHOME_LIB_URL = "bthome-ble: bthome_ble/bthome_v2_encryption.py example (key 231d39c1…)"
PVVX_URL = "btsensor crate src/atc.rs test decode_pvvx (pvvx README layout)"

NONE = None
# name, company id, payload hex (XX reserved bytes written as FF), expected values, sequence, source
RUUVI_VECTORS = [
    (
        "df5-valid",
        "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F",
        {"temperature_c": 24.3, "humidity_pct": 53.49, "pressure_hpa": 1000.44, "battery_mv": 2977},
        205,
        DF5_URL,
    ),
    (
        "df5-max",
        "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F",
        {
            "temperature_c": 163.835,
            "humidity_pct": 163.835,
            "pressure_hpa": 1155.34,
            "battery_mv": 3646,
        },
        65534,
        DF5_URL,
    ),
    (
        "df5-min",
        "058001000000008001800180010000000000CBB8334C884F",
        {"temperature_c": -163.835, "humidity_pct": 0.0, "pressure_hpa": 500.0, "battery_mv": 1600},
        0,
        DF5_MIN_URL,
    ),
    (
        "df5-invalid",
        "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF",
        {"temperature_c": NONE, "humidity_pct": NONE, "pressure_hpa": NONE, "battery_mv": NONE},
        None,
        DF5_URL,
    ),
    (
        "df6-valid",
        "06170C5668C79E007000C90501D9FFCD004C884F",
        {
            "temperature_c": 29.5,
            "humidity_pct": 55.3,
            "pressure_hpa": 1011.02,
            "pm25_ugm3": 11.2,
            "co2_ppm": 201,
            "voc_index": 10,
            "nox_index": 2,
            "illuminance_lux": 13026.67,
        },
        205,
        DF6_URL,
    ),
    (
        "df6-max",
        "067FFF9C40FFFE27109C40FAFAFEFFFF074C8F4F",
        {
            "temperature_c": 163.835,
            "humidity_pct": 100.0,
            "pressure_hpa": 1155.34,
            "pm25_ugm3": 1000.0,
            "co2_ppm": 40000,
            "voc_index": 500,
            "nox_index": 500,
            "illuminance_lux": 65535.0,
        },
        255,
        DF6_URL,
    ),
    (
        "df6-min",
        "0680010000000000000000000000FF00004C884F",
        {
            "temperature_c": -163.835,
            "humidity_pct": 0.0,
            "pressure_hpa": 500.0,
            "pm25_ugm3": 0.0,
            "co2_ppm": 0,
            "voc_index": 0,
            "nox_index": 0,
            "illuminance_lux": 0.0,
        },
        0,
        DF6_URL,
    ),
    (
        "df6-invalid",
        "068000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        {
            "temperature_c": NONE,
            "humidity_pct": NONE,
            "pressure_hpa": NONE,
            "pm25_ugm3": NONE,
            "co2_ppm": NONE,
            "voc_index": NONE,
            "nox_index": NONE,
            "illuminance_lux": NONE,
        },
        255,
        DF6_URL,
    ),
    (
        "e1-valid",
        "E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE10FFFFFFFFFFCBB8334C884F",
        {
            "temperature_c": 29.5,
            "humidity_pct": 55.3,
            "pressure_hpa": 1011.02,
            "pm1_ugm3": 10.1,
            "pm25_ugm3": 11.2,
            "pm4_ugm3": 121.3,
            "pm10_ugm3": 455.4,
            "co2_ppm": 201,
            "voc_index": 20,
            "nox_index": 4,
            "illuminance_lux": 13027.0,
        },
        14601710,
        E1_URL,
    ),
    (
        "e1-max",
        "E17FFF9C40FFFE27102710271027109C40FAFADC28F0FFFFFFFFFFFE3FFFFFFFFFFFCBB8334C884F",
        {
            "temperature_c": 163.835,
            "humidity_pct": 100.0,
            "pressure_hpa": 1155.34,
            "pm1_ugm3": 1000.0,
            "pm25_ugm3": 1000.0,
            "pm4_ugm3": 1000.0,
            "pm10_ugm3": 1000.0,
            "co2_ppm": 40000,
            "voc_index": 500,
            "nox_index": 500,
            "illuminance_lux": 144284.0,
        },
        16777214,
        E1_URL,
    ),
    (
        "e1-min",
        "E1800100000000000000000000000000000000000000FFFFFF00000000FFFFFFFFFFCBB8334C884F",
        {
            "temperature_c": -163.835,
            "humidity_pct": 0.0,
            "pressure_hpa": 500.0,
            "pm1_ugm3": 0.0,
            "pm25_ugm3": 0.0,
            "pm4_ugm3": 0.0,
            "pm10_ugm3": 0.0,
            "co2_ppm": 0,
            "voc_index": 0,
            "nox_index": 0,
            "illuminance_lux": 0.0,
        },
        0,
        E1_URL,
    ),
    (
        "e1-invalid",
        "E18000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFFFFFFFF",
        {
            "temperature_c": NONE,
            "humidity_pct": NONE,
            "pressure_hpa": NONE,
            "pm1_ugm3": NONE,
            "pm25_ugm3": NONE,
            "pm4_ugm3": NONE,
            "pm10_ugm3": NONE,
            "co2_ppm": NONE,
            "voc_index": NONE,
            "nox_index": NONE,
            "illuminance_lux": NONE,
        },
        None,
        E1_URL,
    ),
]
RESOLUTION = {"temperature_c": 0.005, "illuminance_lux": 0.5, "humidity_pct": 0.005}


def _check(decoded: Decoded, expected: dict[str, float | None]) -> None:
    for name, want in expected.items():
        got = getattr(decoded.values, name)
        if want is None:
            assert got is None, name
        else:
            assert got == pytest.approx(want, abs=RESOLUTION.get(name, 1e-6)), name


@pytest.mark.parametrize(
    ("payload", "expected", "sequence", "source"),
    [pytest.param(*v[1:], id=v[0]) for v in RUUVI_VECTORS],
)
def test_ruuvi_published_vectors(payload, expected, sequence, source) -> None:
    result = decode(RawAdvert(ADDR, manufacturer_data={0x0499: bytes.fromhex(payload)}))
    assert isinstance(result, Decoded), (result, source)
    _check(result, expected)
    assert result.sequence == sequence


ARANET4_VALID = b"!\x05\x03\x01\x00\x05\x00\x01C\x04\x9f\x01\x8b'5\x0c\x02<\x00\x10\x00U"


@pytest.mark.parametrize("name", ["Aranet4 12345", None], ids=["named", "passive-noname"])
def test_aranet4_vector(name: str | None) -> None:
    """aranet4 tests: CO2 1091, 20.8 °C, 53 %, 1012.3 hPa, battery 12 % (source: ARANET_URL)."""
    result = decode(RawAdvert(ADDR, manufacturer_data={0x0702: ARANET4_VALID}, local_name=name))
    assert isinstance(result, Decoded)
    assert result.format is BleFormat.ARANET4
    _check(
        result,
        {
            "co2_ppm": 1091,
            "temperature_c": 20.8,
            "humidity_pct": 53,
            "pressure_hpa": 1012.3,
            "battery_pct": 12,
        },
    )


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(
            b"\x01\x00\x02\x01\x00\x00\x00", DecodeReason.SMART_HOME_OFF, id="no-integrations"
        ),
        pytest.param(b"\x21\x0a\x04\x00\x00\x00\x00", DecodeReason.NO_READINGS, id="old-firmware"),
        pytest.param(ARANET4_VALID[:-2], DecodeReason.NO_READINGS, id="short"),
        pytest.param(b"\x01\x00\x02", DecodeReason.TRUNCATED, id="bad"),
    ],
)
def test_aranet4_without_readings_says_why(payload: bytes, reason: DecodeReason) -> None:
    result = decode(
        RawAdvert(ADDR, manufacturer_data={0x0702: payload}, local_name="Aranet4 12345")
    )
    assert isinstance(result, DecodeError)
    assert result.reason is reason


def test_aranet4_smart_home_message_tells_the_fix() -> None:
    result = decode(RawAdvert(ADDR, manufacturer_data={0x0702: b"\x01\x00\x02\x01\x00\x00\x00"}))
    assert isinstance(result, DecodeError)
    assert str(result) == (
        f"Aranet4 {ADDR}: slå 'Smart Home integrations' til i Aranet Home-appen / "
        "enable Smart Home integrations in the Aranet Home app"
    )


BTHOME_VECTORS = [
    (
        "temp-hum",
        "4002ca0903bf13",
        None,
        {"temperature_c": 25.06, "humidity_pct": 50.55},
        None,
        BTHOME_URL,
    ),
    (
        "packet-batt-co2",
        "400009016112e204",
        None,
        {"battery_pct": 97, "co2_ppm": 1250},
        9,
        BTHOME_URL,
    ),
    (
        "pressure-voltage",
        "4004138a010c020c",
        None,
        {"pressure_hpa": 1008.83, "battery_mv": 3074},
        None,
        BTHOME_URL,
    ),
    (
        "issue-118",
        "40003f015e02820803ac170c830b",
        None,
        {"battery_pct": 94, "temperature_c": 21.78, "humidity_pct": 60.60, "battery_mv": 2947},
        63,
        "https://github.com/Bluetooth-Devices/bthome-ble/issues/118",
    ),
    (
        "encrypted-spec",
        "41e445f3c9962b332211006c7c4519",
        KEY,
        {"temperature_c": 25.06, "humidity_pct": 50.55},
        0x00112233,
        BTHOME_ENC_URL,
    ),
    (
        "encrypted-lib",
        "41a47266c95f730011223378237214",
        KEY,
        {"temperature_c": 25.06, "humidity_pct": 50.55},
        0x33221100,
        BTHOME_LIB_URL,
    ),
]


@pytest.mark.parametrize(
    ("payload", "key", "expected", "sequence", "source"),
    [pytest.param(*v[1:], id=v[0]) for v in BTHOME_VECTORS],
)
def test_bthome_vectors(payload, key, expected, sequence, source) -> None:
    result = decode(RawAdvert(KEY_MAC, service_data={BTHOME: bytes.fromhex(payload)}), key)
    assert isinstance(result, Decoded), (result, source)
    _check(result, expected)
    assert result.sequence == sequence


@pytest.mark.parametrize(
    ("payload", "key", "reason"),
    [
        pytest.param(
            "4002ca0903bf13", KEY, DecodeReason.PLAINTEXT_WITH_KEY, id="plaintext-with-key"
        ),
        pytest.param(
            "41e445f3c9962b332211006c7c4519", bytes(16), DecodeReason.WRONG_KEY, id="wrong-key"
        ),
        pytest.param(
            "41e445f3c9962b332211006c7c4519", None, DecodeReason.ENCRYPTED_NO_KEY, id="no-key"
        ),
        pytest.param("41e445f3c9962b332211006c7c4518", KEY, DecodeReason.WRONG_KEY, id="bad-mic"),
        pytest.param("2002ca09", None, DecodeReason.NOT_SUPPORTED, id="bthome-v1-info"),
        pytest.param("", None, DecodeReason.TRUNCATED, id="empty"),
    ],
)
def test_bthome_refusals(payload: str, key: bytes | None, reason: DecodeReason) -> None:
    result = decode(RawAdvert(KEY_MAC, service_data={BTHOME: bytes.fromhex(payload)}), key)
    assert isinstance(result, DecodeError)
    assert result.reason is reason


def test_pvvx_vector() -> None:
    """pvvx custom: 22.20 °C, 52.78 %, 2976 mV, 100 %, counter 136 (PVVX_URL). Hand check:
    0x08AC = 2220, 0x149E = 5278, 0x0BA0 = 2976."""
    payload = bytes(
        [0x93, 0x41, 0x8C, 0x38, 0xC1, 0xA4, 0xAC, 0x08, 0x9E, 0x14, 0xA0, 0x0B, 100, 136, 0x04]
    )
    result = decode(RawAdvert(ADDR, service_data={ENV: payload}))
    assert isinstance(result, Decoded)
    assert result.format is BleFormat.PVVX
    _check(
        result,
        {"temperature_c": 22.2, "humidity_pct": 52.78, "battery_mv": 2976, "battery_pct": 100},
    )
    assert result.sequence == 136


def test_atc1441_hand_computed() -> None:
    """No published atc1441 vector with values: bytes by hand from the atc1441 README layout —
    21.5 °C → 215 = 0x00D7 (BE), 45 % → 0x2D, 89 % → 0x59, 2950 mV → 0x0B86 (BE), counter 7."""
    result = decode(
        RawAdvert(ADDR, service_data={ENV: bytes.fromhex("A4C1388C419300D72D590B8607")})
    )
    assert isinstance(result, Decoded)
    assert result.format is BleFormat.ATC1441
    _check(
        result, {"temperature_c": 21.5, "humidity_pct": 45, "battery_pct": 89, "battery_mv": 2950}
    )
    assert result.sequence == 7


@pytest.mark.parametrize(
    ("advert", "reason"),
    [
        pytest.param(
            RawAdvert(ADDR, manufacturer_data={0x0499: b"\x03\x29"}),
            DecodeReason.NOT_SUPPORTED,
            id="ruuvi-df3",
        ),
        pytest.param(
            RawAdvert(ADDR, manufacturer_data={0x0499: b"\x05\x12"}),
            DecodeReason.TRUNCATED,
            id="ruuvi-df5-short",
        ),
        pytest.param(
            RawAdvert(ADDR, manufacturer_data={0x0499: b""}),
            DecodeReason.TRUNCATED,
            id="ruuvi-empty",
        ),
        pytest.param(
            RawAdvert(ADDR, manufacturer_data={0x004C: b"\x02\x15"}),
            DecodeReason.NOT_SUPPORTED,
            id="apple",
        ),
        pytest.param(
            RawAdvert(ADDR, service_data={ENV: b"\x00" * 14}),
            DecodeReason.MALFORMED,
            id="env-14-bytes",
        ),
        pytest.param(RawAdvert(ADDR), DecodeReason.NOT_SUPPORTED, id="nothing"),
    ],
)
def test_bad_input_has_a_reason(advert: RawAdvert, reason: DecodeReason) -> None:
    result = decode(advert)
    assert isinstance(result, DecodeError)
    assert result.reason is reason
    assert str(result)


SECTIONS = st.sampled_from([("m", 0x0499), ("m", 0x0702), ("s", BTHOME), ("s", ENV), ("m", 0x1234)])


@settings(max_examples=300, deadline=None)
@given(
    section=SECTIONS,
    payload=st.binary(max_size=48),
    key=st.sampled_from([None, KEY]),
    name=st.sampled_from([None, "Aranet4 1", "Aranet2 1", "AranetRn 1"]),
)
def test_random_bytes_never_raise(section, payload: bytes, key, name) -> None:
    kind, ident = section
    advert = (
        RawAdvert(ADDR, manufacturer_data={ident: payload}, local_name=name)
        if kind == "m"
        else RawAdvert(ADDR, service_data={ident: payload}, local_name=name)
    )
    assert isinstance(decode(advert, key), Decoded | DecodeError)


@settings(max_examples=100, deadline=None)
@given(vector=st.sampled_from([v[1] for v in RUUVI_VECTORS]), cut=st.integers(0, 39))
def test_truncated_ruuvi_vectors_are_rejected(vector: str, cut: int) -> None:
    data = bytes.fromhex(vector)
    cut = min(cut, len(data) - 1)
    result = decode(RawAdvert(ADDR, manufacturer_data={0x0499: data[:cut]}))
    assert isinstance(result, DecodeError)
