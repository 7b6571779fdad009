"""A private PostgreSQL cluster for tests: ``initdb`` in a temporary folder, ``postgres`` on a
free loopback port, a database ``indeklima``, stopped and removed afterwards.

PostgreSQL refuses to run as root; CI runs as root, so there the cluster runs as the ``postgres``
system user (``subprocess.Popen(user="postgres")``: a setuid in the child, so signals reach
postgres itself, not a wrapper) in a folder that user owns. As any other user it runs as that
user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cloud.servers import free_port

BIN_DIRS = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or no way to run them as a non-root user."""


def _binary(name: str) -> str:
    for folder in BIN_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise PostgresUnavailable(f"{name} not found: apt-get install -y postgresql (or `make setup`)")


def _as_user() -> dict[str, object]:
    """Popen arguments that run the child as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailable("running as root and there is no 'postgres' user") from exc
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


class PostgresCluster:
    """A running private cluster; `database` makes a fresh, empty database."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._count = 0

    def database(self, prefix: str = "indeklima") -> str:
        """A new database; returns its SQLAlchemy URL."""
        import psycopg

        self._count += 1
        name = f"{prefix}_{self._count}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a private cluster on a free port in a temporary folder; stop and remove it."""
    initdb, postgres = _binary("initdb"), _binary("postgres")
    as_user = _as_user()
    owner = "postgres" if as_user else None
    folder = Path(tempfile.mkdtemp(prefix="indeklima-pg-"))
    data, sockets = folder / "data", folder / "sock"
    sockets.mkdir()
    if owner is not None:
        for path in (folder, sockets):
            shutil.chown(path, owner, owner)
    port = free_port()
    log_path = folder / "postgres.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            cwd=folder,
            **as_user,  # type: ignore[arg-type]
        )
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    postgres,
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(sockets),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder,
                **as_user,  # type: ignore[arg-type]
            )
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=port,
                    user="postgres",
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=2,
                ) as conn:
                    conn.execute("SELECT 1")
                break
            except psycopg.OperationalError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        f"postgres did not start: {log_path.read_text(errors='replace')[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield PostgresCluster(port)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
