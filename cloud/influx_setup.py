"""``indeklima influx-setup``: users, database and retention of a deployment's InfluxDB 1.x.

Run by deploy/install.sh (and by hand after a password change); idempotent. With
``auth-enabled = true`` InfluxDB accepts one thing without credentials: creating the first admin.
This command does that once, then, as the admin:

* the database (``indeklima``);
* ``indeklima-writer`` with WRITE on it (ingest), ``indeklima-jobs`` with READ and WRITE (the
  analytics jobs read readings and write their results) and ``indeklima-reader`` with READ (API,
  Grafana, settlement): nobody but the admin can drop;
* the retention policy ``bogfoering``, the database's default, ``--keep-days`` long (default
  2,300 days, about 6.3 years). Why: a heating settlement (dynamisk varmeregnskab) is computed from
  the flats' readings, and bogføringsloven § 10 requires accounting material to be kept for 5 years
  from the end of the financial year it belongs to. A reading can be up to about a year older
  than the end of its financial year, so 5 + 1 years plus a margin. The raw readings ARE what the
  settlements rest on today, so they are kept that long too; once the hourly/daily rollups carry
  the settlement, ``--raw-days`` can put raw readings in a shorter ``raa`` policy (see
  deploy/README.md, "Retention").

Passwords are read from files (deploy/secrets.sh writes them), never taken on the command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from cloud.store.lineprotocol import quote_ident

log = logging.getLogger(__name__)

ADMIN = "indeklima-admin"
WRITER = "indeklima-writer"
JOBS = "indeklima-jobs"
READER = "indeklima-reader"
KEEP_POLICY = "bogfoering"
KEEP_DAYS = 2300


class InfluxSetupError(RuntimeError):
    pass


def _quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Passwords:
    admin: str
    writer: str
    reader: str
    jobs: str


def setup_statements(database: str, passwords: Passwords, existing_users: set[str]) -> list[str]:
    """What the admin runs, in order (pure): the database, then each service user made or given
    its password, with exactly one privilege on the database."""
    db = quote_ident(database)
    statements = [f"CREATE DATABASE {db}"]
    for user, password, privilege in (
        (WRITER, passwords.writer, "WRITE"),
        (JOBS, passwords.jobs, "ALL"),
        (READER, passwords.reader, "READ"),
    ):
        name = quote_ident(user)
        if user in existing_users:
            statements.append(f"SET PASSWORD FOR {name} = {_quote_string(password)}")
        else:
            statements.append(f"CREATE USER {name} WITH PASSWORD {_quote_string(password)}")
        statements += [f"REVOKE ALL ON {db} FROM {name}", f"GRANT {privilege} ON {db} TO {name}"]
    return statements


class InfluxAdmin:
    def __init__(self, url: str, password: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.password = password
        self.timeout_s = timeout_s

    def query(self, q: str, *, auth: bool = True) -> list[dict[str, Any]]:
        try:
            response = requests.post(
                f"{self.url}/query",
                data={"q": q},
                auth=(ADMIN, self.password) if auth else None,
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            raise InfluxSetupError(
                f"kan ikke nå InfluxDB / cannot reach InfluxDB at {self.url}: {exc}"
            ) from exc
        if response.status_code in (401, 403):
            raise PermissionError(response.text.strip())
        try:
            results: list[dict[str, Any]] = response.json()["results"]
        except (ValueError, KeyError) as exc:
            raise InfluxSetupError(
                f"{self.url} svarer ikke som InfluxDB / does not answer like InfluxDB"
            ) from exc
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise InfluxSetupError(f"InfluxDB: {errors[0]} (in {q.split(' WITH PASSWORD')[0]})")
        return results

    def ensure_admin(self) -> bool:
        """Create the admin if InfluxDB has no users yet; True when it was created."""
        try:
            self.query("SHOW USERS")
            return False
        except PermissionError:
            pass
        try:
            self.query(
                f"CREATE USER {quote_ident(ADMIN)} WITH PASSWORD "
                f"{_quote_string(self.password)} WITH ALL PRIVILEGES",
                auth=False,
            )
        except PermissionError as exc:
            raise InfluxSetupError(
                f"InfluxDB afviste admin-adgangskoden / refused the admin password of {ADMIN} "
                "and already has users: use the password it was set up with "
                f"(influx_admin_password), or reset it as described in deploy/README.md ({exc})"
            ) from None
        return True

    def setup(self, database: str, passwords: Passwords, keep_days: int = KEEP_DAYS) -> None:
        created = self.ensure_admin()
        log.info("InfluxDB admin %s", "created" if created else "exists")
        users = {
            row[0]
            for result in self.query("SHOW USERS")
            for series in result.get("series", [])
            for row in series.get("values", [])
        }
        for statement in setup_statements(database, passwords, users):
            self.query(statement)
        self.retention(database, keep_days)

    def retention(self, database: str, keep_days: int) -> None:
        db = quote_ident(database)
        policies = {
            row[0]
            for result in self.query(f"SHOW RETENTION POLICIES ON {db}")
            for series in result.get("series", [])
            for row in series.get("values", [])
        }
        verb = "ALTER" if KEEP_POLICY in policies else "CREATE"
        replication = "" if verb == "ALTER" else " REPLICATION 1"
        self.query(
            f"{verb} RETENTION POLICY {quote_ident(KEEP_POLICY)} ON {db} "
            f"DURATION {int(keep_days)}d{replication} DEFAULT"
        )


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--influx-url", default="http://127.0.0.1:8086", metavar="URL")
    parser.add_argument("--influx-db", default="indeklima", metavar="DB")
    parser.add_argument(
        "--secrets",
        type=Path,
        default=Path("/etc/indeklima/secrets"),
        metavar="DIR",
        help="folder with influx_admin_password, influx_writer_password, influx_jobs_password, "
        "influx_reader_password (deploy/secrets.sh)",
    )
    parser.add_argument(
        "--keep-days",
        type=int,
        default=KEEP_DAYS,
        help=f"retention of the default policy (default {KEEP_DAYS}: bogføringsloven, 5 years "
        "after the financial year)",
    )


def run(args: argparse.Namespace) -> int:
    from cloud.secrets import resolve_secret

    try:
        secret = {
            name: resolve_secret(
                file=args.secrets / f"influx_{name}_password",
                env=f"INDEKLIMA_INFLUX_{name.upper()}_PASSWORD",
            )
            for name in ("admin", "writer", "reader", "jobs")
        }
        passwords = Passwords(**{k: v or "" for k, v in secret.items()})
        InfluxAdmin(args.influx_url, passwords.admin).setup(
            args.influx_db, passwords, args.keep_days
        )
    except (ValueError, InfluxSetupError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    sys.stdout.write(
        f"InfluxDB {args.influx_url}: database {args.influx_db}, users {ADMIN}, {WRITER} (write), "
        f"{JOBS} (read, write), {READER} (read), retention {KEEP_POLICY} {args.keep_days} days "
        "(default)\n"
    )
    return 0
