"""Start real Mosquitto and InfluxDB servers on free loopback ports in temporary folders.

Used by ``indeklima demo`` (a private broker), by the tests and by the benchmarks. Each server is
a context manager that owns its child process and folder; leaving the block stops the process
(SIGTERM, then SIGKILL after a timeout) and removes the folder. ``kill()`` and ``start()`` let fault
tests kill a server hard (SIGKILL) and bring it back on the same port with the same data.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)

DEBIAN_HINT = "install it with: apt-get install -y mosquitto influxdb (or run `make test`)"


class ServerError(RuntimeError):
    """A server could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _find(executable: str, *extra_dirs: str) -> str:
    found = shutil.which(executable)
    if found:
        return found
    for folder in extra_dirs:
        candidate = Path(folder) / executable
        if candidate.exists():
            return str(candidate)
    raise ServerError(f"{executable} not found; {DEBIAN_HINT}")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class _ChildServer:
    """A server child process with a folder of its own."""

    name = "server"

    def __init__(self, folder: Path | None = None) -> None:
        self._own_folder = folder is None
        self.folder = (
            Path(tempfile.mkdtemp(prefix=f"indeklima-{self.name}-")) if folder is None else folder
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = self.folder / f"{self.name}.log"

    # subclasses
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        return _port_open(self.port)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 30.0) -> None:
        if self.running:
            return
        with self._log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                self._command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.folder
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self._log_file.read_text(errors="replace")[-2000:]
                raise ServerError(f"{self.name} exited with {self._proc.returncode}:\n{tail}")
            if self._ready():
                log.debug("%s ready on port %d", self.name, self.port)
                return
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not become ready on port {self.port} in {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: the server forgets whatever it held only in memory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
        self._proc = None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


class MosquittoServer(_ChildServer):
    """A private Mosquitto 2.x broker with persistence (autosave on every change).

    ``autosave_interval 1`` with ``autosave_on_changes true`` writes the in-memory state after every
    change, so a SIGTERM keeps queued messages; a SIGKILL still loses what was not yet saved —
    which is why delivery is confirmed end to end, not by the broker's PUBACK.
    """

    name = "mosquitto"

    def __init__(self, folder: Path | None = None, max_queued: int = 1_000_000) -> None:
        super().__init__(folder)
        self.max_queued = max_queued

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        conf = self.folder / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.folder}/",
                    "autosave_interval 1",
                    "autosave_on_changes true",
                    f"max_queued_messages {self.max_queued}",
                    "max_inflight_messages 0",
                    "max_packet_size 2000000",
                    "log_dest stdout",
                    "log_type error",
                    "log_type warning",
                    "",
                ]
            )
        )
        return [_find("mosquitto", "/usr/sbin"), "-c", str(conf)]


class InfluxServer(_ChildServer):
    """A private InfluxDB 1.x (Debian ``influxdb``) serving the 1.x HTTP API."""

    name = "influxdb"

    def __init__(self, folder: Path | None = None, auth: bool = False) -> None:
        super().__init__(folder)
        self.rpc_port = free_port()
        self.auth = auth

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        conf = self.folder / "influxdb.conf"
        conf.write_text(
            f"""reporting-enabled = false
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.folder}/meta"
  logging-enabled = false
[data]
  dir = "{self.folder}/data"
  wal-dir = "{self.folder}/wal"
  query-log-enabled = false
  cache-max-memory-size = "1g"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = {"true" if self.auth else "false"}
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
  suppress-logo = true
[continuous_queries]
  enabled = false
"""
        )
        return [_find("influxd", "/usr/bin"), "run", "-config", str(conf)]

    def _ready(self) -> bool:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response,
        ):
            return int(response.status) == 204
        return False
