"""``indeklima restore DIR``: see cloud/backup.py."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from cloud.backup import configure_restore

    configure_restore(parser)


def run(args: argparse.Namespace) -> int:
    from cloud.backup import run_restore

    return run_restore(args)
