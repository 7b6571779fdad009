"""Open a store from command-line style settings."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from cloud.store.base import TimeSeriesStore

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def open_store(
    *,
    sqlite_path: Path | None = None,
    influx_url: str | None = None,
    influx_db: str = "indeklima",
    influx_user: str | None = None,
    influx_password: str | None = None,
    influx_token: str | None = None,
) -> TimeSeriesStore:
    """InfluxDB when a URL is given, else the embedded SQLite store."""
    if influx_url:
        from cloud.store.influx import InfluxStore

        host = urlsplit(influx_url).hostname or ""
        return InfluxStore(
            influx_url,
            influx_db,
            # with a user the database exists already (indeklima influx-setup made it): only
            # the admin may create databases, and the services are not the admin
            create_database=influx_user is None and influx_token is None,
            username=influx_user,
            password=influx_password,
            token=influx_token,
            # gzip costs more CPU than it saves on loopback (bench/bench_influx_raw.py:
            # 88k vs 142k points/s); across a network it pays.
            gzip=host not in _LOOPBACK,
        )
    if sqlite_path is None:
        raise ValueError("give --influx-url URL or --sqlite PATH for the time-series store")
    from cloud.store.sqlite import SqliteStore

    return SqliteStore(sqlite_path)


def add_store_arguments(parser: object) -> None:
    """The store flags every store-using command shares."""
    import argparse

    assert isinstance(parser, argparse.ArgumentParser)
    group = parser.add_argument_group("time-series store (InfluxDB 1.x HTTP API or SQLite)")
    group.add_argument("--sqlite", type=Path, metavar="PATH", help="embedded SQLite store file")
    group.add_argument("--influx-url", metavar="URL", help="e.g. http://127.0.0.1:8086")
    group.add_argument("--influx-db", default="indeklima", metavar="DB")
    group.add_argument("--influx-user", metavar="USER", help="or INDEKLIMA_INFLUX_USER")
    group.add_argument(
        "--influx-password-file",
        type=Path,
        metavar="PATH",
        help="file holding the password (or INDEKLIMA_INFLUX_PASSWORD; never on the command line)",
    )
    group.add_argument("--influx-password", metavar="PASSWORD", help=argparse.SUPPRESS)
    group.add_argument(
        "--influx-token-file",
        type=Path,
        metavar="PATH",
        help="for InfluxDB 2/3 compat API (or INDEKLIMA_INFLUX_TOKEN)",
    )
    group.add_argument("--influx-token", metavar="TOKEN", help=argparse.SUPPRESS)


def store_from_args(args: object) -> TimeSeriesStore:
    """The store the flags name; secrets from their files or the environment (ValueError when a
    secret file cannot be read)."""
    import os

    from cloud.secrets import resolve_secret

    return open_store(
        sqlite_path=getattr(args, "sqlite", None),
        influx_url=getattr(args, "influx_url", None),
        influx_db=getattr(args, "influx_db", "indeklima"),
        influx_user=getattr(args, "influx_user", None) or os.environ.get("INDEKLIMA_INFLUX_USER"),
        influx_password=resolve_secret(
            file=getattr(args, "influx_password_file", None),
            env="INDEKLIMA_INFLUX_PASSWORD",
            flag_value=getattr(args, "influx_password", None),
            flag="--influx-password",
        ),
        influx_token=resolve_secret(
            file=getattr(args, "influx_token_file", None),
            env="INDEKLIMA_INFLUX_TOKEN",
            flag_value=getattr(args, "influx_token", None),
            flag="--influx-token",
        ),
    )
