"""``indeklima decode``: decode one BLE advertisement payload, for commissioning.

    indeklima decode --manufacturer-id 0x0499 0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F
    indeklima decode --service-uuid fcd2 41e445f3c9962b332211006c7c4519 \\
        --bind-key 231d39c1d7cc1ab1aee224cd096db932 --address 54:48:E6:8F:80:A5

Prints one JSON object (units in the names, ``null`` where the device says "not available",
plus ``"format"`` and ``"sequence"``); exit code 2 with a message on undecodable input.
"""

from __future__ import annotations

import argparse
import re

EXIT_UNDECODABLE = 2
_DEFAULT_ADDRESS = "00:00:00:00:00:00"
_UUID128 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def parse_int_id(text: str) -> int:
    """A company id in hex (0x0499) or decimal (1177)."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ugyldigt producent-id / invalid manufacturer id {text!r}: use 0x0499 or 1177"
        ) from None
    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"manufacturer id {text!r} is not a 16-bit number")
    return value


def parse_uuid(text: str) -> str:
    """A service UUID: 16-bit short (fcd2, 0xFCD2) or full 128-bit; returned as 128-bit."""
    t = text.strip().lower()
    t = t.removeprefix("0x")
    if re.fullmatch(r"[0-9a-f]{1,4}", t):
        return f"0000{int(t, 16):04x}-0000-1000-8000-00805f9b34fb"
    if _UUID128.fullmatch(t):
        return t
    raise argparse.ArgumentTypeError(
        f"ugyldigt service-UUID / invalid service UUID {text!r}: use fcd2, 0xFCD2 or "
        "0000fcd2-0000-1000-8000-00805f9b34fb"
    )


def parse_hex(text: str) -> bytes:
    t = re.sub(r"[\s:]", "", text).removeprefix("0x").removeprefix("0X")
    try:
        return bytes.fromhex(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"ikke hex / not hexadecimal: {text!r} (e.g. 0512FC53…)"
        ) from None


def configure(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--manufacturer-id",
        type=parse_int_id,
        metavar="ID",
        help="company id of the manufacturer data, hex (0x0499) or decimal",
    )
    source.add_argument(
        "--service-uuid",
        type=parse_uuid,
        metavar="UUID",
        help="service data UUID, 16-bit (fcd2) or 128-bit",
    )
    parser.add_argument("payload", type=parse_hex, metavar="HEX", help="the payload bytes in hex")
    parser.add_argument("--bind-key", metavar="KEY", help="BTHome bind key, 32 hex digits")
    parser.add_argument(
        "--address",
        default=_DEFAULT_ADDRESS,
        metavar="MAC",
        help="the device's BLE address (BTHome decryption needs it)",
    )
    parser.add_argument("--name", default=None, help="the advertised local name, if any")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from dataclasses import asdict

    from edge.sensors.ble import DecodeError, RawAdvert, decode, parse_bind_key

    key: bytes | None = None
    if args.bind_key is not None:
        try:
            key = parse_bind_key(args.bind_key)
        except ValueError as exc:
            print(f"fejl: ugyldig bind-nøgle / error: invalid bind key: {exc}", file=sys.stderr)  # noqa: T201
            return EXIT_UNDECODABLE
    address = str(args.address).upper()
    if args.manufacturer_id is not None:
        advert = RawAdvert(
            address, manufacturer_data={args.manufacturer_id: args.payload}, local_name=args.name
        )
    else:
        advert = RawAdvert(
            address, service_data={args.service_uuid: args.payload}, local_name=args.name
        )
    result = decode(advert, key)
    if isinstance(result, DecodeError):
        print(  # noqa: T201
            f"fejl: kunne ikke afkode / error: could not decode ({result.reason}): {result}",
            file=sys.stderr,
        )
        return EXIT_UNDECODABLE
    out: dict[str, object] = {"format": str(result.format), **asdict(result.values)}
    out["sequence"] = result.sequence
    print(json.dumps(out, ensure_ascii=False))  # noqa: T201
    return 0
