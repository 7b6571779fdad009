"""The ``indeklima`` command. Each subcommand lives in its own module with
``configure(parser)`` and ``run(args) -> int``.

Only the chosen subcommand's module is imported: a Raspberry Pi gateway installs only the
``edge`` extra (``pip install 'indeklima[edge]'``, no numpy/pandas/pydantic/FastAPI/SQLAlchemy),
and ``indeklima gateway`` / ``indeklima decode`` must neither need nor load the cloud's
libraries. This module and ``cloud/__init__.py`` import only the standard library; ``--help``
lists every subcommand without importing any. A subcommand whose extra is not installed ends
with a message naming the extra to install.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Final

SUBCOMMANDS: Final[dict[str, tuple[str, str]]] = {
    "demo": ("cloud.demo_cli", "run the whole system on this machine (simulated building)"),
    "gateway": ("edge.gateway_cli", "run the gateway, or scan for nearby sensors"),
    "decode": ("edge.decode_cli", "decode one BLE advertisement payload (commissioning)"),
    "ingest": ("cloud.ingest_cli", "MQTT -> time-series store, with end-to-end acks"),
    "backup": ("cloud.backup_cli", "back up InfluxDB, the SQLite databases and the settings"),
    "restore": ("cloud.restore_cli", "restore a backup made by indeklima backup"),
    "influx-setup": ("cloud.influx_setup", "InfluxDB users, database and retention (install)"),
    "deadletters": ("cloud.deadletter_cli", "list, show, replay or purge ingest's dead letters"),
    "simulate": ("firmware_sim.cli", "simulate a building's indoor climate (CSV for settle)"),
    "mould-index": ("cloud.analytics.mould_cli", "VTT mould index from logger CSV"),
    "jobs": ("cloud.jobs.cli", "run the analytics jobs per building"),
    "settle": ("cloud.settlement.cli", "heating settlement (dynamisk varmeregnskab)"),
    "api": ("cloud.api_cli", "serve the API (residents, technicians, finance, admins)"),
    "db": ("cloud.accounts_cli", "accounts database: upgrade (migrate), seed from registry"),
    "users": ("cloud.users_cli", "user accounts: add, list, disable, passwd, assign, move-out"),
}
EXTRAS: Final[dict[str, str]] = {"gateway": "edge", "decode": "edge", "simulate": "sim"}
"""The extra each subcommand needs (default ``cloud``; ``all`` has everything)."""
EXIT_MISSING_EXTRA: Final = 2
ALL: Final = "*"
"""`build_parser`'s default: configure every subcommand (tools and tests; imports them all)."""


class MissingExtra(Exception):
    """The chosen subcommand needs a library this install does not have."""


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: the first word that is not a top-level option."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


_OWN_PACKAGES: Final = frozenset({"cloud", "edge", "firmware_sim"})


def _missing_extra(name: str, exc: ModuleNotFoundError) -> MissingExtra | None:
    """The message for a third-party library this install lacks; None for anything else."""
    missing = exc.name
    if missing is None or missing.split(".")[0] in _OWN_PACKAGES:
        return None
    extra = EXTRAS.get(name, "cloud")
    return MissingExtra(
        f"fejl: `indeklima {name}` kræver {missing!r}, som ikke er installeret — "
        f"installér udvidelsen {extra!r} / error: `indeklima {name}` needs {missing!r}, "
        f"which is not installed: pip install 'indeklima[{extra}]' (a gateway installs "
        "only [edge]: `gateway` and `decode`)"
    )


def _load(name: str, module_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = _missing_extra(name, exc)
        if missing is None:
            raise
        raise missing from exc


def build_parser(command: str | None = ALL) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported and configured (every one's for
    `ALL`, none for None — ``indeklima --help``)."""
    parser = argparse.ArgumentParser(
        prog="indeklima",
        description="Synligt indeklima – kvalitetssikret drift. Indoor climate for social housing.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if command in (name, ALL):
            module = _load(name, module_name)
            module.configure(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    provision = _gateway_provision(args_in)
    if provision is not None:  # server side: its options are its own (cloud/provision.py)
        try:
            from cloud.provision import main as provision_main
        except ModuleNotFoundError as exc:
            missing = _missing_extra("gateway provision", exc)
            if missing is None:
                raise
            sys.stderr.write(f"{missing}\n")
            return EXIT_MISSING_EXTRA
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        return provision_main(provision)
    try:
        parser = build_parser(_command_in(args_in))
    except MissingExtra as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_MISSING_EXTRA
    args = parser.parse_args(args_in)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args._run(args)
    except ModuleNotFoundError as exc:  # subcommands import their heavy libraries in run()
        missing = _missing_extra(args.command, exc)
        if missing is None:
            raise
        sys.stderr.write(f"{missing}\n")
        return EXIT_MISSING_EXTRA
    return code


def _gateway_provision(argv: list[str]) -> list[str] | None:
    """The arguments after ``gateway provision`` (after any -v), or None for other commands."""
    rest = argv
    while rest and rest[0] in ("-v", "-vv", "--verbose"):
        rest = rest[1:]
    return rest[2:] if rest[:2] == ["gateway", "provision"] else None


if __name__ == "__main__":
    sys.exit(main())
