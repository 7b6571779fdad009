"""``indeklima backup DIR``: see cloud/backup.py."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    from cloud.backup import configure_backup

    configure_backup(parser)


def run(args: argparse.Namespace) -> int:
    from cloud.backup import run_backup

    return run_backup(args)
