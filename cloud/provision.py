"""``indeklima gateway provision GATEWAY_ID``: commission a gateway, on the server.

1. checks the id (a broker user name and a topic level; never a service's name) and that the
   building and flats are in the registry and the gateway is not;
2. creates its broker user and role through Mosquitto's dynamic-security plugin (cloud/broker.py):
   it may publish its own readings/status/alerts/window state and subscribe to its own
   ack/config/window commands, nothing else, and its client id is its user name;
3. adds it to the registry (the TOML file keeps its comments: the entry is appended);
4. writes its gateway config (mode 0600 from the start) with a fresh random password, to be
   copied to the Pi as /etc/indeklima/gateway.toml; its sensors are added there.

No password is ever taken from or shown on the command line. Dispatched from ``indeklima
gateway provision`` (cloud/cli.py) so that the gateway's own commands never import this.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

from cloud.broker import BrokerAdmin, BrokerError, check_gateway_id, new_password
from cloud.registry import Registry
from cloud.secrets import resolve_secret, write_secret_file

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indeklima gateway provision",
        description="Opret en gateway: mægler-bruger og -rolle, registrering og konfiguration / "
        "commission a gateway: broker user and role, registry entry and its config file. "
        "Run on the server.",
    )
    parser.add_argument("gateway_id", metavar="GATEWAY_ID")
    parser.add_argument("--building", required=True, help="the building it serves")
    parser.add_argument(
        "--flat",
        dest="flats",
        action="append",
        required=True,
        metavar="FLAT",
        help="a flat it serves (repeat for each)",
    )
    parser.add_argument(
        "--registry", type=Path, default=Path("/etc/indeklima/registry.toml"), metavar="PATH"
    )
    parser.add_argument(
        "--broker-url",
        default="mqtts://127.0.0.1:8883",
        metavar="URL",
        help="the broker's TLS listener, as this server reaches it (admin login)",
    )
    parser.add_argument(
        "--gateway-url",
        metavar="URL",
        help="the broker's TLS listener as the gateway reaches it, e.g. "
        "mqtts://mqtt.example.dk:8883 (written into its config; default: --broker-url)",
    )
    parser.add_argument(
        "--ca-file", type=Path, metavar="PATH", help="CA of the broker's certificate (admin login)"
    )
    parser.add_argument("--admin-user", default="indeklima-admin")
    parser.add_argument(
        "--admin-password-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="file with the dynamic-security admin's password (or INDEKLIMA_BROKER_ADMIN_PASSWORD; "
        "deploy/secrets.sh writes /etc/indeklima/secrets/broker_admin_password)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="where to write the gateway's config (default ./GATEWAY_ID.toml; never overwritten)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        summary = provision(args)
    except (ValueError, OSError, BrokerError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    sys.stdout.write(summary + "\n")
    return 0


def provision(args: argparse.Namespace) -> str:
    gateway: str = args.gateway_id
    check_gateway_id(gateway)
    out: Path = args.out or Path(f"{gateway}.toml")
    if out.exists():
        raise ValueError(f"{out} findes allerede / already exists: choose another --out")
    registry_text = args.registry.read_text(encoding="utf-8")
    new_text = add_to_registry(
        registry_text, args.registry.suffix, gateway, args.building, args.flats
    )
    admin_password = resolve_secret(
        file=args.admin_password_file, env="INDEKLIMA_BROKER_ADMIN_PASSWORD"
    )
    if not admin_password:
        raise ValueError(
            "mangler admin-adgangskoden / the broker admin password is missing: give "
            "--admin-password-file or set INDEKLIMA_BROKER_ADMIN_PASSWORD"
        )
    admin = BrokerAdmin(args.broker_url, args.admin_user, admin_password, args.ca_file)
    password = new_password()
    admin.provision_gateway(gateway, password)
    _replace(args.registry, new_text)
    write_secret_file(out, gateway_config(gateway, args.gateway_url or args.broker_url, password))
    return (
        f"gateway {gateway}: mægler-bruger og rolle oprettet, registreret i {args.registry}, "
        f"konfiguration i {out} (kopiér til Pi'en som /etc/indeklima/gateway.toml og tilføj "
        f"sensorerne) / broker user and role created, registered, config written to {out}. "
        "Restart ingest to pick up the registry, then replay its dead letters: "
        "indeklima deadletters replay --reason-kind unregistered"
    )


def add_to_registry(
    text: str, suffix: str, gateway: str, building: str, flats: Sequence[str]
) -> str:
    """The registry text with the gateway added (pure); ValueError when the result would not be a
    valid registry (unknown building or flat) or the gateway is already there."""
    if suffix == ".json":
        data = json.loads(text)
        current = Registry.model_validate(data)
    else:
        current = Registry.model_validate(tomllib.loads(text))
    if current.gateway(gateway) is not None:
        raise ValueError(f"gateway {gateway!r} er allerede registreret / is already registered")
    entry = {"id": gateway, "building": building, "flats": list(flats)}
    if suffix == ".json":
        data.setdefault("gateways", []).append(entry)
        new_text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        Registry.model_validate(json.loads(new_text))
    else:
        flats_toml = ", ".join(json.dumps(f) for f in flats)
        new_text = (
            text.rstrip("\n")
            + f"\n\n[[gateways]]\nid = {json.dumps(gateway)}\nbuilding = {json.dumps(building)}\n"
            f"flats = [{flats_toml}]\n"
        )
        Registry.model_validate(tomllib.loads(new_text))
    return new_text


def gateway_config(gateway: str, url: str, password: str) -> str:
    """The new gateway's config (pure): broker login; the outbox in the systemd state folder."""
    return (
        f"# indeklima gateway {gateway}: made by `indeklima gateway provision`. Install on the Pi\n"
        "# as /etc/indeklima/gateway.toml (mode 0640, group indeklima); add its [[sensors]]\n"
        "# (deploy/gateway.example.toml; `indeklima gateway scan` lists what is in range).\n"
        f"gateway_id = {json.dumps(gateway)}\n\n"
        "[mqtt]\n"
        f"url = {json.dumps(url)}\n"
        f"username = {json.dumps(gateway)}\n"
        f"password = {json.dumps(password)}\n\n"
        "[outbox]\n"
        'path = "/var/lib/indeklima/outbox.sqlite"\n'
    )


def _replace(path: Path, text: str) -> None:
    """Write `text` over `path` atomically, keeping its mode."""
    mode = path.stat().st_mode & 0o777
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
