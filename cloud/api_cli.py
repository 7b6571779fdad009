"""``indeklima api``: serve the API until SIGTERM/SIGINT.

Databases come from the environment (``INDEKLIMA_API_ACCOUNTS_URL``, ``INDEKLIMA_API_ALERTS_URL``,
``INDEKLIMA_API_RUNS_URL``, …). People log in with accounts made by ``indeklima users add`` in
the accounts database (``indeklima db upgrade`` first).

``--workers N`` (N > 1) serves from N processes on one port (uvicorn's workers): the program checks
its settings and makes the databases once, then hands its command line to the workers in the
environment variable ``INDEKLIMA_API_WORKER_ARGS``; each worker parses it with the same parser
(`worker_app`, the factory uvicorn imports) and opens its own store, registry and accounts —
secrets are read again from their files or the environment, never put on a command line. With a
SQLite store and accounts database the workers share the files (WAL; writers wait for each other);
with several API machines use PostgreSQL for the accounts. Window control (``--control-mqtt-url``)
keeps one MQTT client and one set-point file, so it runs with one worker only.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cloud.store.open import add_store_arguments

if TYPE_CHECKING:
    from fastapi import FastAPI

WORKER_ARGS: Final = "INDEKLIMA_API_WORKER_ARGS"
"""The command line (JSON list, after ``api``) each worker process parses (`worker_app`)."""
WORKER_LOG_LEVEL: Final = "INDEKLIMA_API_WORKER_LOG_LEVEL"
"""The command's log level (``-v``), for the workers' logging."""
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""As `cloud.cli` logs."""
MAX_WORKERS: Final = 64


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=Path,
        required=True,
        help="registry of buildings, flats and gateways (TOML or JSON)",
    )
    parser.add_argument("--host", default=None, help="default INDEKLIMA_API_HOST or 127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default INDEKLIMA_API_PORT or 8000")
    add_store_arguments(parser)
    parser.add_argument(
        "--control-mqtt-url",
        metavar="URL",
        help="broker for window set points and commands (user/password from "
        "INDEKLIMA_CONTROL_MQTT_USERNAME / INDEKLIMA_CONTROL_MQTT_PASSWORD); without it the "
        "window endpoints answer 404",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes on the one port (default 1; e.g. one per core). Each opens its "
        "own store and databases; not with --control-mqtt-url",
    )
    parser.add_argument(
        "--setpoints",
        type=Path,
        default=Path("setpoints.json"),
        help="file of the set points given per gateway (default: setpoints.json)",
    )


def worker_app() -> FastAPI:
    """The app of one worker process (``uvicorn --factory cloud.api_cli:worker_app``): the
    command line in `WORKER_ARGS` parsed as ``indeklima api`` parses it; the store is closed
    when the worker exits."""
    from cloud.api import ApiSettings, create_app
    from cloud.registry import Registry
    from cloud.store.open import store_from_args

    if not logging.getLogger().handlers:  # a spawned worker: log as the command does
        logging.basicConfig(
            level=int(os.environ.get(WORKER_LOG_LEVEL, logging.WARNING)),
            format=LOG_FORMAT,
            stream=sys.stderr,
        )
    parser = argparse.ArgumentParser(prog="indeklima api")
    configure(parser)
    args = parser.parse_args(json.loads(os.environ[WORKER_ARGS]))
    store = store_from_args(args)
    atexit.register(store.close)
    app = create_app(ApiSettings(), store, Registry.load(args.registry))
    logging.getLogger("indeklima.api.access").setLevel(logging.INFO)
    return app


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The command line a worker parses: the registry and the store flags (secret values given
    as flags go to the workers in their environment variables, never on a command line)."""
    argv = ["--registry", str(args.registry)]
    for flag, value in (
        ("--sqlite", args.sqlite),
        ("--influx-url", args.influx_url),
        ("--influx-db", args.influx_db),
        ("--influx-user", args.influx_user),
        ("--influx-password-file", args.influx_password_file),
        ("--influx-token-file", args.influx_token_file),
    ):
        if value is not None:
            argv += [flag, str(value)]
    return argv


def prepare(app: FastAPI) -> None:
    """Run the app's start-up and shut-down once (it opens, and makes if need be, the alert,
    run, document and mail databases), so that N workers starting at once find them made."""
    import asyncio

    async def cycle() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(cycle())


def _serve_workers(args: argparse.Namespace, host: str, port: int) -> int:
    """Serve with `args.workers` processes until SIGTERM/SIGINT (uvicorn's supervisor)."""
    import uvicorn

    os.environ[WORKER_ARGS] = json.dumps(worker_argv(args))
    os.environ[WORKER_LOG_LEVEL] = str(logging.getLogger().getEffectiveLevel())
    for value, env in (
        (args.influx_password, "INDEKLIMA_INFLUX_PASSWORD"),
        (args.influx_token, "INDEKLIMA_INFLUX_TOKEN"),
    ):
        if value and not os.environ.get(env):
            os.environ[env] = value
    sys.stderr.write(f"API: http://{host}:{port}/docs ({args.workers} workers)\n")
    uvicorn.run(
        "cloud.api_cli:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="none",
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.accounts.db import SchemaOutOfDate
    from cloud.api import ApiServer, ApiSettings, create_app
    from cloud.registry import Registry
    from cloud.store.open import store_from_args

    if not 1 <= args.workers <= MAX_WORKERS:
        sys.stderr.write(
            f"fejl: --workers skal være 1-{MAX_WORKERS} / error: --workers must be "
            f"1-{MAX_WORKERS}\n"
        )
        return 2
    if args.workers > 1 and args.control_mqtt_url:
        sys.stderr.write(
            "fejl: vinduesstyring (--control-mqtt-url) kører med én proces; start den som sit "
            "eget API uden --workers / error: window control (--control-mqtt-url) runs in one "
            "process; serve it from its own API without --workers\n"
        )
        return 2
    try:
        settings = ApiSettings()
        registry = Registry.load(args.registry)
        store = store_from_args(args)
    except (ValidationError, OSError, ValueError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    if args.workers > 1:
        try:  # fail fast here, not in each worker, and make the databases' tables once
            prepare(create_app(settings, store, registry))
        except (SchemaOutOfDate, SQLAlchemyError, ValueError) as exc:
            sys.stderr.write(f"fejl / error: {exc}\n")
            return 2
        finally:
            store.close()  # (a SQLite store is at the current schema by now)
        return _serve_workers(args, host, port)
    from cloud.control import ControlClient
    from cloud.setpoint_book import SetpointBook

    control = None
    try:
        book = SetpointBook(args.setpoints) if args.control_mqtt_url else None
        if args.control_mqtt_url:
            control = ControlClient(
                args.control_mqtt_url,
                client_id="control-api",
                username=os.environ.get("INDEKLIMA_CONTROL_MQTT_USERNAME"),
                password=os.environ.get("INDEKLIMA_CONTROL_MQTT_PASSWORD"),
            )
        app = create_app(settings, store, registry, control=control, setpoint_book=book)
    except (SchemaOutOfDate, SQLAlchemyError, ValueError) as exc:
        store.close()
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    if control is not None:
        control.start()
    # the access log (user, never token) is a server's record: on unless -v asks for more
    logging.getLogger("indeklima.api.access").setLevel(logging.INFO)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with ApiServer(app, host, port) as server:
            sys.stderr.write(f"API: {server.url}/docs\n")
            stop.wait()
    finally:
        if control is not None:
            control.close()
        store.close()
    return 0
