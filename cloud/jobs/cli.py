"""``indeklima jobs run [--once]``: the analytics jobs per building (cloud/jobs/runner.py).

Without ``--once`` the jobs run every ``--every`` minutes (default 60) until SIGINT/SIGTERM.
Each run prints a one-line JSON summary on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cloud.store.open import add_store_arguments

if TYPE_CHECKING:
    from collections.abc import Sequence

    import paho.mqtt.client as mqtt

    from cloud.analytics.alerts import Alert
    from cloud.mail.settings import MailSettings

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    run_parser = sub.add_parser("run", help="run the jobs (once, or on a schedule)")
    run_parser.add_argument("--once", action="store_true", help="one run, then exit")
    run_parser.add_argument("--every", type=float, default=60.0, metavar="MINUTES")
    run_parser.add_argument(
        "--now",
        type=_utc_time,
        metavar="ISO-TIME",
        help="with --once: run as if it were this time, e.g. 2026-01-31T12:00Z (catch-up, tests)",
    )
    run_parser.add_argument("--registry", type=Path, required=True, help="registry.toml (or .json)")
    run_parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path("jobs-state"),
        metavar="DIR",
        help="model state between runs and the default alert database (default ./jobs-state)",
    )
    run_parser.add_argument("--alerts-url", metavar="URL", help="SQLAlchemy URL of the alerts")
    run_parser.add_argument("--mqtt-url", metavar="URL", help="publish alerts, mqtt://host:port")
    run_parser.add_argument("--grafana-url", metavar="URL", help="push alerts as annotations")
    run_parser.add_argument("--grafana-token", metavar="TOKEN")
    run_parser.add_argument(
        "--sensitivity",
        default="sensitive",
        choices=["very-sensitive", "sensitive", "medium-resistant", "resistant"],
    )
    run_parser.add_argument("--decline", type=float, default=0.5, metavar="CMAT")
    run_parser.add_argument(
        "--mail",
        action="store_true",
        help="e-mail new alerts to residents who opted in; SMTP settings from INDEKLIMA_MAIL_* "
        "(README: alert e-mails)",
    )
    run_parser.add_argument(
        "--accounts-url",
        metavar="URL",
        help="with --mail: the accounts database (as INDEKLIMA_API_ACCOUNTS_URL), so only "
        "current residents are mailed",
    )
    add_store_arguments(run_parser)
    rollup_parser = sub.add_parser(
        "rollup",
        help="(re)build the hourly and daily rollups of a time range (first start, or readings "
        "that arrived more than a week late)",
    )
    rollup_parser.add_argument("--registry", type=Path, required=True)
    rollup_parser.add_argument("--since", type=_utc_time, required=True, metavar="ISO-TIME")
    rollup_parser.add_argument(
        "--until", type=_utc_time, metavar="ISO-TIME", help="default: now (whole hours only)"
    )
    rollup_parser.add_argument("--building", action="append", help="only these (repeatable)")
    add_store_arguments(rollup_parser)


def run(args: argparse.Namespace) -> int:
    if args.jobs_command == "rollup":
        return _rollup(args)
    return _run(args)


def _rollup(args: argparse.Namespace) -> int:
    from cloud.registry import Registry
    from cloud.store.base import StoreUnavailable
    from cloud.store.open import store_from_args
    from cloud.store.rollup import refresh_rollups

    until = args.until or datetime.now(UTC)
    try:
        registry = Registry.load(args.registry)
        buildings = [b.id for b in registry.buildings]
        unknown = sorted(set(args.building or ()) - set(buildings))
        if unknown:
            raise ValueError(f"ukendte bygninger / unknown buildings: {', '.join(unknown)}")
        if until <= args.since:
            raise ValueError("--since skal ligge før --until / --since must be before --until")
        store = store_from_args(args)
    except (OSError, ValueError) as exc:
        log.error("rollup kan ikke starte / cannot start: %s", exc)
        return 2
    try:
        for building in args.building or buildings:
            day = timedelta(days=1)
            start, hours = args.since, 0
            while start < until:  # a day at a time: bounded memory on long ranges
                hours += refresh_rollups(store, building, start, min(start + day, until)).hours
                start += day
            sys.stdout.write(json.dumps({"building": building, "hours_rolled": hours}) + "\n")
    except StoreUnavailable as exc:
        log.error("lageret svarer ikke / the store is unavailable: %s", exc)
        return 1
    finally:
        store.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    from cloud.analytics.vtt import Sensitivity
    from cloud.jobs.runner import JobsConfig, run_jobs_once
    from cloud.registry import Registry
    from cloud.store.open import store_from_args

    try:
        registry = Registry.load(args.registry)
        mail = _mail_settings() if args.mail else None
        store = store_from_args(args)
    except (OSError, ValueError) as exc:
        log.error("jobs kan ikke starte / cannot start: %s", exc)
        return 2
    config = JobsConfig(
        sensitivity=Sensitivity(args.sensitivity),
        cmat=args.decline,
        alerts_url=args.alerts_url,
        grafana_url=args.grafana_url,
        grafana_token=args.grafana_token,
        mail=mail,
        accounts_url=args.accounts_url,
    )
    stop = threading.Event()
    if not args.once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    client = _mqtt_client(args.mqtt_url) if args.mqtt_url else None

    def publisher(alerts: Sequence[Alert]) -> None:
        from cloud.analytics.alert_publish import publish_alerts

        if client is not None:
            publish_alerts(client, alerts)

    try:
        while True:
            now = args.now if args.once and args.now else datetime.now(UTC)
            summary = run_jobs_once(store, registry, args.state_dir, now, publisher, config=config)
            sys.stdout.write(json.dumps(asdict(summary), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            if args.once or stop.wait(args.every * 60):
                break
    finally:
        if client is not None:
            client.loop_stop()
            client.disconnect()
        store.close()
    return 0


def _mail_settings() -> MailSettings:
    """From the environment; a missing or wrong setting is a ValueError that names it."""
    from pydantic import ValidationError

    from cloud.mail.settings import MailSettings

    try:
        return MailSettings()  # type: ignore[call-arg]  # required fields come from the env
    except ValidationError as exc:
        raise ValueError(f"--mail: INDEKLIMA_MAIL_* settings: {exc}") from exc


def _utc_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from exc
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {text}Z")
    return moment.astimezone(UTC)


def _mqtt_client(url: str) -> mqtt.Client:
    from urllib.parse import urlparse

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parsed = urlparse(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="indeklima-jobs")
    if parsed.username:
        client.username_pw_set(parsed.username, parsed.password)
    client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
    client.loop_start()
    return client
