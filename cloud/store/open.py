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
    group.add_argument("--influx-user", metavar="USER")
    group.add_argument("--influx-password", metavar="PASSWORD")
    group.add_argument("--influx-token", metavar="TOKEN", help="for InfluxDB 2/3 compat API")


def store_from_args(args: object) -> TimeSeriesStore:
    return open_store(
        sqlite_path=getattr(args, "sqlite", None),
        influx_url=getattr(args, "influx_url", None),
        influx_db=getattr(args, "influx_db", "indeklima"),
        influx_user=getattr(args, "influx_user", None),
        influx_password=getattr(args, "influx_password", None),
        influx_token=getattr(args, "influx_token", None),
    )
