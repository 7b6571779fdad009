"""Run the API with uvicorn in a thread of this process (for ``indeklima demo`` and tests).

``with ApiServer(app, port=8000) as server: ...`` starts it and waits until it listens; leaving
the block (or ``close()``, safe to call twice) asks uvicorn to finish its requests and run the
app's shutdown, and joins the thread (forcing the exit after ``stop_timeout_s``).
"""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class ApiServerError(RuntimeError):
    """The server could not start; the message says what to do."""


class ApiServer:
    def __init__(
        self,
        app: FastAPI,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        start_timeout_s: float = 15.0,
        stop_timeout_s: float = 10.0,
        access_log: bool = False,
    ) -> None:
        """``port=0`` picks a free port; read it from `port` after `start`."""
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # keep the program's logging as it is
            access_log=access_log,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=max(1, int(stop_timeout_s / 2)),
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._server.started

    def _serve(self) -> None:
        try:
            self._server.run()
        except SystemExit as exc:  # uvicorn exits when it cannot bind or the app cannot start
            log.error("API server exited at start (code %s); see the errors above", exc.code)
        except Exception:
            log.exception("API server failed")

    def start(self) -> None:
        """Start serving; returns when the server listens (raises `ApiServerError` if not)."""
        with self._lock:
            if self._thread is not None:
                raise ApiServerError("serveren er allerede startet / the server was started")
            self._thread = threading.Thread(target=self._serve, name=f"indeklima-api-{self.port}")
            self._thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise ApiServerError(
                    f"API'et kunne ikke starte på {self.host}:{self.port} (er porten optaget? "
                    "se loggen) / the API could not start on "
                    f"{self.host}:{self.port} (is the port taken? see the log)"
                )
            time.sleep(0.02)
        if self.port == 0:
            self.port = self._server.servers[0].sockets[0].getsockname()[1]
        log.info("API listening on %s", self.url)

    def close(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._server.should_exit = True
        thread.join(self.stop_timeout_s)
        if thread.is_alive():
            log.warning("API did not stop in %.0f s; forcing it", self.stop_timeout_s)
            self._server.force_exit = True
            thread.join(self.stop_timeout_s)
        if thread.is_alive():
            raise ApiServerError("API-tråden stoppede ikke / the API thread did not stop")
        log.info("API stopped")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
