"""The ``indeklima`` command. Each subcommand lives in its own module with
``configure(parser)`` and ``run(args) -> int``; heavy imports happen inside ``run`` so that
``--help`` is quick and the gateway's commands work on a Pi without the cloud extras."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Final

SUBCOMMANDS: Final[dict[str, tuple[str, str]]] = {
    "demo": ("cloud.demo_cli", "run the whole system on this machine (simulated building)"),
    "gateway": ("edge.gateway_cli", "run the gateway, or scan for nearby sensors"),
    "decode": ("edge.decode_cli", "decode one BLE advertisement payload (commissioning)"),
    "ingest": ("cloud.ingest_cli", "MQTT -> time-series store, with end-to-end acks"),
    "simulate": ("firmware_sim.cli", "simulate a building's indoor climate (CSV for settle)"),
    "mould-index": ("cloud.analytics.mould_cli", "VTT mould index from logger CSV"),
    "jobs": ("cloud.jobs.cli", "run the analytics jobs per building"),
    "settle": ("cloud.settlement.cli", "heating settlement (dynamisk varmeregnskab)"),
    "api": ("cloud.api_cli", "serve the technician/finance API"),
    "db": ("cloud.accounts_cli", "accounts database: upgrade (migrate), seed from registry"),
    "users": ("cloud.users_cli", "user accounts: add, list, disable, passwd, assign"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indeklima",
        description="Synligt indeklima – kvalitetssikret drift. Indoor climate for social housing.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue  # not built yet
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
