"""``indeklima api``: serve the API until SIGTERM/SIGINT.

Databases come from the environment (``INDEKLIMA_API_ACCOUNTS_URL``, ``INDEKLIMA_API_ALERTS_URL``,
``INDEKLIMA_API_RUNS_URL``, …). People log in with accounts made by ``indeklima users add`` in
the accounts database (``indeklima db upgrade`` first).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from cloud.store.open import add_store_arguments


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
        "--setpoints",
        type=Path,
        default=Path("setpoints.json"),
        help="file of the set points given per gateway (default: setpoints.json)",
    )


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.accounts.db import SchemaOutOfDate
    from cloud.api import ApiServer, ApiSettings, create_app
    from cloud.registry import Registry
    from cloud.store.open import store_from_args

    try:
        settings = ApiSettings()
        registry = Registry.load(args.registry)
        store = store_from_args(args)
    except (ValidationError, OSError, ValueError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
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
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
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
