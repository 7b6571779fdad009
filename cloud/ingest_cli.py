"""``indeklima ingest``: run one ingest process until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cloud.store.open import add_store_arguments

if TYPE_CHECKING:
    from cloud.ingest import Ingest, IngestStats
    from cloud.registry import Registry
    from cloud.store.base import TimeSeriesStore

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mqtt-url", default="mqtt://127.0.0.1:1883", metavar="URL")
    parser.add_argument("--mqtt-user", metavar="USER")
    parser.add_argument(
        "--mqtt-password-file",
        type=Path,
        metavar="PATH",
        help="file holding the broker password (or INDEKLIMA_MQTT_PASSWORD; never on the "
        "command line, where ps shows it)",
    )
    parser.add_argument("--mqtt-password", metavar="PASSWORD", help=argparse.SUPPRESS)
    parser.add_argument(
        "--client-id",
        default="ingest-1",
        help="fixed per process: the broker keeps its session (default ingest-1)",
    )
    parser.add_argument(
        "--registry",
        type=Path,
        required=True,
        help="registry of buildings, flats and gateways (TOML or JSON)",
    )
    parser.add_argument(
        "--dead-letters",
        type=Path,
        default=Path("dead_letters.sqlite"),
        metavar="PATH",
        help="where unstorable messages go, with the reason",
    )
    parser.add_argument(
        "--dead-letters-max",
        type=int,
        default=100_000,
        metavar="N",
        help="keep at most N dead letters (default 100,000); the oldest are dropped and counted",
    )
    parser.add_argument(
        "--dead-letters-max-mb",
        type=float,
        default=256.0,
        metavar="MB",
        help="and at most this many MB of their payloads (default 256)",
    )
    parser.add_argument(
        "--dead-letters-days",
        type=float,
        default=90.0,
        metavar="DAYS",
        help="and each at most this long (default 90 days)",
    )
    parser.add_argument(
        "--max-clock-skew",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="readings dated further ahead than this are dead-lettered as 'future' "
        "(default 600; replayable)",
    )
    parser.add_argument(
        "--session-expiry",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="how long the broker queues for this ingest while it is away "
        "(default 3600; gateways re-send anything older)",
    )
    parser.add_argument(
        "--batch-max-points",
        type=int,
        default=40_000,
        help="readings per store write (default 40,000: 8 requests of 5,000 "
        "lines, 4 in flight — measured best here, bench/bench_ingest.py)",
    )
    parser.add_argument("--batch-max-age", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument(
        "--report-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="log readings stored, rate, dead letters and store retries this often "
        "(default 60; 0: only at the end)",
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=2,
        help="groups of readings stored at once (default 2: formatting one group overlaps "
        "the store's work on the other; acks stay in order)",
    )
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from cloud.deadletter import DeadLetters
    from cloud.ingest import Ingest
    from cloud.registry import Registry
    from cloud.secrets import resolve_secret
    from cloud.store.open import store_from_args

    try:
        registry = Registry.load(args.registry)
        mqtt_password = resolve_secret(
            file=args.mqtt_password_file,
            env="INDEKLIMA_MQTT_PASSWORD",
            flag_value=args.mqtt_password,
            flag="--mqtt-password",
        )
        store = store_from_args(args)
    except (OSError, ValueError) as exc:
        log.error("ingest cannot start: %s", exc)
        return 2
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)  # a service's progress lines belong in its journal; -v adds more
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with DeadLetters(
        args.dead_letters,
        max_count=args.dead_letters_max,
        max_bytes=int(args.dead_letters_max_mb * 1024 * 1024),
        retention_s=args.dead_letters_days * 86_400,
    ) as dead_letters:
        ingest = Ingest(
            store,
            registry,
            dead_letters,
            mqtt_url=args.mqtt_url,
            client_id=args.client_id,
            batch_max_points=args.batch_max_points,
            batch_max_age_s=args.batch_max_age,
            username=args.mqtt_user,
            password=mqtt_password,
            session_expiry_s=args.session_expiry,
            writers=args.writers,
            max_future_s=args.max_clock_skew,
        )
        watcher = _RegistryWatcher(args.registry)
        with ingest:
            log.info("ingest %s running", args.client_id)
            earlier, since = ingest.stats.snapshot(), time.monotonic()
            while not stop.wait(1.0) and not ingest.failed.is_set():
                changed = watcher.changed()
                if changed is not None:
                    ingest.set_registry(changed)
                if args.report_every > 0 and time.monotonic() - since >= args.report_every:
                    now = time.monotonic()
                    log.info("%s: %s", args.client_id, ingest.stats.progress(earlier, now - since))
                    _write_health(store, ingest, args.client_id, earlier, now - since)
                    earlier, since = ingest.stats.snapshot(), now
            log.info(
                "ingest %s stopping: %s",
                args.client_id,
                ingest.stats.progress(earlier, time.monotonic() - since),
            )
            _write_health(store, ingest, args.client_id, earlier, time.monotonic() - since)
    store.close()
    if ingest.failed.is_set():
        log.error("ingest %s stopped on an error (above); restart it", args.client_id)
        return 1
    return 0


def _write_health(
    store: TimeSeriesStore, ingest: Ingest, client_id: str, earlier: IngestStats, seconds: float
) -> None:
    """One ingest-health point; a store that is down costs a warning, never the ingest."""
    from cloud.store.base import StoreRejected, StoreUnavailable

    try:
        store.write([ingest.stats.point(client_id, earlier, seconds, time.time())])
    except (StoreUnavailable, StoreRejected) as exc:
        log.warning("ingest-sundhed ikke gemt / ingest health not stored: %s", exc)


class _RegistryWatcher:
    """Reloads the registry when its file changes (a gateway provisioned while ingest runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def changed(self) -> Registry | None:
        from cloud.registry import Registry

        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            registry = Registry.load(self.path)
        except (OSError, ValueError) as exc:
            log.error(
                "registret %s kunne ikke læses; det gamle bruges / the registry could not be "
                "read, keeping the old one: %s",
                self.path,
                exc,
            )
            return None
        log.info("registry %s reloaded", self.path)
        return registry
