"""``indeklima backup DIR`` / ``indeklima restore DIR``: everything a deployment needs again.

A backup folder holds

* ``influx/``: InfluxDB's portable backup of the database (``influxd backup -portable``, taken
  online over its loopback RPC port 8088; InfluxDB 1.6 and newer have it);
* ``sqlite/``: each SQLite database (settlement runs and their documents, alerts, jobs state,
  dead letters …) copied with SQLite's online backup API, so a file in use is copied consistently;
* ``postgres/``: each PostgreSQL database given by URL, ``pg_dump --format=custom`` (consistent
  while in use); restored with ``pg_restore --clean --if-exists`` into the database at the same
  or a given URL (which must exist). Passwords never go into the manifest: give them in
  ``~/.pgpass`` or ``PGPASSWORD``;
* ``files/``: files and folders as they are (registry, tariffs, secrets, the broker's config,
  password file, certificates and the dynamic-security users);
* ``manifest.json``: what came from where, with each file's SHA-256 — `restore` checks them.

Restore puts every file back where it came from and restores the InfluxDB database into a
running ``influxd`` (which must not have the database yet: a fresh server, or drop it first).
The folder holds secrets: it is made with mode 0700; keep it that way and encrypted off-site.

"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

MANIFEST: Final = "manifest.json"
BARE_METAL_FILES: Final = (
    "/etc/indeklima",
    "/etc/mosquitto/mosquitto.conf",
    "/etc/mosquitto/acl",
    "/etc/mosquitto/passwd",
    "/etc/mosquitto/certs",
    "/var/lib/mosquitto/dynamic-security.json",
)
BARE_METAL_SQLITE_DIR: Final = "/var/lib/indeklima"


class BackupError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stored_name(original: Path) -> str:
    """A flat, unique name for an absolute path (pure)."""
    return str(original.resolve()).strip("/").replace("/", "__")


def _influxd() -> str:
    found = shutil.which("influxd") or (
        "/usr/bin/influxd" if Path("/usr/bin/influxd").exists() else None
    )
    if found is None:
        raise BackupError("influxd not found: apt-get install -y influxdb")
    return found


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        raise BackupError(
            f"{what} fejlede / failed: {(result.stderr or result.stdout).strip()[-800:]}"
        )


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as libpq takes it, without its password
    (pure): the password comes from ``~/.pgpass`` or ``PGPASSWORD``, never from argv."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgresql", "postgres"):
        raise BackupError(f"ikke en PostgreSQL-URL / not a PostgreSQL URL: {scheme}://…")
    netloc = parts.hostname or ""
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} not found: apt-get install -y postgresql-client")
    return found


def backup(
    target: Path,
    *,
    influx_host: str | None,
    influx_db: str,
    sqlite_files: Sequence[Path],
    files: Sequence[Path],
    database_urls: Sequence[str] = (),
) -> dict[str, Any]:
    """Write a backup into `target` (new or empty); returns the manifest."""
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} er ikke tom / is not empty: give a new folder")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target, 0o700)
    manifest: dict[str, Any] = {
        "version": 1,
        "made": datetime.now(UTC).isoformat(),
        "influx": None,
        "sqlite": [],
        "postgres": [],
        "files": [],
    }
    if influx_host:
        _run(
            [_influxd(), "backup", "-portable", "-host", influx_host, "-db", influx_db,
             str(target / "influx")],
            "influxd backup",
        )  # fmt: skip
        manifest["influx"] = {"db": influx_db, "host": influx_host}
    (target / "sqlite").mkdir(mode=0o700)
    for source in sqlite_files:
        if not source.is_file():
            raise BackupError(f"{source} findes ikke / does not exist")
        copy = target / "sqlite" / _stored_name(source)
        with closing(sqlite3.connect(source)) as db, closing(sqlite3.connect(copy)) as out:
            db.backup(out)
        manifest["sqlite"].append(
            {"path": str(source.resolve()), "stored": copy.name, "sha256": _sha256(copy)}
        )
    (target / "postgres").mkdir(mode=0o700)
    for n, url in enumerate(database_urls, start=1):
        plain = libpq_url(url)
        dump = target / "postgres" / f"{n}.dump"
        _run(
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", plain],
            "pg_dump",
        )
        manifest["postgres"].append({"url": plain, "stored": dump.name, "sha256": _sha256(dump)})
    (target / "files").mkdir(mode=0o700)
    for source in files:
        if not source.exists():
            raise BackupError(f"{source} findes ikke / does not exist")
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if not path.is_file():
                continue
            stored = target / "files" / _stored_name(path)
            shutil.copy2(path, stored)
            info = path.stat()
            manifest["files"].append(
                {
                    "path": str(path.resolve()),
                    "stored": stored.name,
                    "sha256": _sha256(stored),
                    "mode": info.st_mode & 0o7777,
                    "uid": info.st_uid,
                    "gid": info.st_gid,
                }
            )
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def restore(
    source: Path, *, influx_host: str | None, database_urls: Sequence[str] = ()
) -> dict[str, Any]:
    """Put a backup back: files and SQLite databases to their paths, the InfluxDB database into
    the running server at `influx_host` (default: where it was backed up from)."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} er ikke en backup / is not a backup: {exc}") from exc
    postgres = manifest.get("postgres", [])
    if database_urls and len(database_urls) != len(postgres):
        raise BackupError(
            f"backuppen har {len(postgres)} PostgreSQL-databaser / the backup holds "
            f"{len(postgres)} PostgreSQL databases: give as many --database-url"
        )
    for kind in ("sqlite", "postgres", "files"):  # check everything before changing anything
        for entry in manifest.get(kind, []):
            stored = source / kind / entry["stored"]
            if not stored.is_file() or _sha256(stored) != entry["sha256"]:
                raise BackupError(f"{stored} mangler eller er ændret / is missing or changed")
    for entry in manifest["sqlite"]:
        target = Path(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):  # a stale WAL must not be replayed over the copy
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source / "sqlite" / entry["stored"], target)
    for entry in manifest["files"]:
        target = Path(entry["path"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / "files" / entry["stored"], target)
        os.chmod(target, entry["mode"])
        if os.geteuid() == 0:
            os.chown(target, entry["uid"], entry["gid"])
    for n, entry in enumerate(postgres):
        url = libpq_url(database_urls[n]) if database_urls else entry["url"]
        _run(
            [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", f"--dbname={url}",
             str(source / "postgres" / entry["stored"])],
            "pg_restore",
        )  # fmt: skip
    influx = manifest.get("influx")
    if influx:
        host = influx_host or influx["host"]
        _run(
            [_influxd(), "restore", "-portable", "-host", host, "-db", influx["db"],
             str(source / "influx")],
            "influxd restore",
        )  # fmt: skip
    return manifest


# -- commands --------------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR")
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        metavar="URL",
        help="a PostgreSQL database (repeat; SQLAlchemy or libpq URL; password in ~/.pgpass or "
        "PGPASSWORD). restore: where each goes (default: where it came from)",
    )
    parser.add_argument(
        "--influx-host",
        metavar="HOST:PORT",
        help="InfluxDB's backup/restore RPC address (backup default 127.0.0.1:8088; "
        "restore default: as backed up)",
    )


def configure_backup(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--influx-db", default="indeklima", metavar="DB")
    parser.add_argument("--no-influx", action="store_true", help="leave InfluxDB out")
    parser.add_argument(
        "--sqlite",
        type=Path,
        action="append",
        default=None,
        metavar="PATH",
        help=f"a SQLite database (repeat; default: every *.sqlite/*.db in {BARE_METAL_SQLITE_DIR})",
    )
    parser.add_argument(
        "--file",
        type=Path,
        action="append",
        default=None,
        metavar="PATH",
        help="a file or folder (repeat; default: the bare-metal layout: "
        + ", ".join(BARE_METAL_FILES)
        + ")",
    )


def run_backup(args: argparse.Namespace) -> int:
    sqlite_files = args.sqlite
    if sqlite_files is None:
        state = Path(BARE_METAL_SQLITE_DIR)
        sqlite_files = sorted(p for p in state.rglob("*") if p.suffix in (".sqlite", ".db"))
    files = args.file if args.file is not None else [Path(p) for p in BARE_METAL_FILES]
    try:
        manifest = backup(
            args.dir,
            influx_host=None if args.no_influx else (args.influx_host or "127.0.0.1:8088"),
            influx_db=args.influx_db,
            sqlite_files=sqlite_files,
            files=files,
            database_urls=args.database_url,
        )
    except (BackupError, OSError, sqlite3.Error) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    sys.stdout.write(
        f"backup i / in {args.dir}: InfluxDB {'ja / yes' if manifest['influx'] else 'nej / no'}, "
        f"{len(manifest['sqlite'])} SQLite, {len(manifest['postgres'])} PostgreSQL, "
        f"{len(manifest['files'])} filer / files\n"
    )
    return 0


def configure_restore(parser: argparse.ArgumentParser) -> None:
    _common(parser)


def run_restore(args: argparse.Namespace) -> int:
    try:
        manifest = restore(args.dir, influx_host=args.influx_host, database_urls=args.database_url)
    except (BackupError, OSError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    sys.stdout.write(
        f"genskabt fra / restored from {args.dir} ({manifest['made']}): "
        f"{len(manifest['sqlite'])} SQLite, {len(manifest['files'])} filer / files"
        f"{', InfluxDB' if manifest['influx'] else ''}. Restart the services.\n"
    )
    return 0
