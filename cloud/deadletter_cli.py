"""``indeklima deadletters list|show|replay|purge``: the operator's view of the dead letters.

* ``list``: what is there (newest last), with the totals and how many the bounds dropped;
* ``show ID``: one letter with its payload;
* ``replay``: check replayable letters (``unregistered``, ``future``; or the ``--id`` given)
  again against the current registry and clock, store what now passes (the store is idempotent,
  so a replay twice stores once) and remove those letters; what is still refused stays, with
  the new reason;
* ``purge``: delete letters by id, kind or age (``--all`` for every one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import msgspec

from cloud.deadletter import REPLAYABLE, DeadLetter, DeadLetters
from cloud.store.open import add_store_arguments

if TYPE_CHECKING:
    from cloud.registry import Registry
    from cloud.store.base import TimeSeriesStore

LOCAL = ZoneInfo("Europe/Copenhagen")
KINDS = ("invalid", "unregistered", "future", "rejected")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "show", "replay", "purge"))
    parser.add_argument("ids", nargs="*", type=int, metavar="ID", help="letters by id")
    parser.add_argument(
        "--dead-letters",
        type=Path,
        default=Path("dead_letters.sqlite"),
        metavar="PATH",
        help="the ingest's dead-letter file (its --dead-letters)",
    )
    parser.add_argument("--kind", action="append", choices=KINDS, help="only this kind")
    parser.add_argument("--gateway", metavar="ID", help="only this gateway's")
    parser.add_argument("--limit", type=int, default=50, help="list: at most (default 50)")
    parser.add_argument("--older-than-days", type=float, metavar="DAYS", help="purge: by age")
    parser.add_argument("--all", action="store_true", help="purge: every letter")
    parser.add_argument("--registry", type=Path, help="replay: the current registry")
    parser.add_argument(
        "--max-clock-skew", type=float, default=600.0, metavar="SECONDS", help="replay: as ingest"
    )
    add_store_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if not args.dead_letters.exists():
        sys.stderr.write(
            f"fejl / error: {args.dead_letters} findes ikke / does not exist "
            "(give the ingest's --dead-letters file)\n"
        )
        return 2
    with DeadLetters(args.dead_letters) as letters:
        if args.action == "list":
            return _list(letters, args)
        if args.action == "show":
            return _show(letters, args)
        if args.action == "purge":
            return _purge(letters, args)
        return _replay(letters, args)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _local(time_s: float) -> str:
    return datetime.fromtimestamp(time_s, UTC).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M:%S")


def _list(letters: DeadLetters, args: argparse.Namespace) -> int:
    summary = letters.summary()
    kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(summary.by_kind.items())) or "ingen / none"
    _out(
        f"{summary.count:,} dødbreve / dead letters, {summary.bytes:,} bytes ({kinds}); "
        f"{summary.dropped:,} droppet af grænserne / dropped by the bounds"
    )
    selected = letters.select(kinds=args.kind or (), gateway=args.gateway, ids=args.ids)
    for letter in selected[-args.limit :] if args.limit > 0 else selected:
        _out(
            f"{letter.id:>8}  {_local(letter.time_s)}  {letter.gateway or '?':<20} "
            f"{letter.kind:<12} {len(letter.payload):>8} B  {letter.reason}"
        )
    return 0


def _show(letters: DeadLetters, args: argparse.Namespace) -> int:
    if not args.ids:
        sys.stderr.write("fejl / error: show ID …\n")
        return 2
    found = letters.select(ids=args.ids)
    missing = sorted(set(args.ids) - {letter.id for letter in found})
    for letter in found:
        _out(f"id:      {letter.id}")
        _out(f"tid/time: {_local(letter.time_s)} (Europe/Copenhagen)")
        _out(f"topic:   {letter.topic}")
        _out(f"gateway: {letter.gateway}")
        _out(f"kind:    {letter.kind}{' (replayable)' if letter.kind in REPLAYABLE else ''}")
        _out(f"reason:  {letter.reason}")
        _out(f"payload: {len(letter.payload):,} bytes")
        _out(_payload_text(letter.payload))
        _out("")
    if missing:
        sys.stderr.write(f"fejl / error: ingen dødbreve / no dead letters with id {missing}\n")
        return 1
    return 0


def _payload_text(payload: bytes, limit: int = 20_000) -> str:
    """The payload as indented JSON where it is JSON, else escaped text, cut at `limit`."""
    try:
        text = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        text = payload.decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more)"


def _purge(letters: DeadLetters, args: argparse.Namespace) -> int:
    if not (args.ids or args.kind or args.gateway or args.older_than_days or args.all):
        sys.stderr.write(
            "fejl / error: sig hvilke / say which: ID …, --kind, --gateway, "
            "--older-than-days or --all\n"
        )
        return 2
    selected = letters.select(kinds=args.kind or (), gateway=args.gateway, ids=args.ids)
    if args.older_than_days is not None:
        cutoff = time.time() - args.older_than_days * 86_400
        selected = [letter for letter in selected if letter.time_s < cutoff]
    removed = letters.remove(letter.id for letter in selected if letter.id is not None)
    _out(f"{removed:,} dødbreve slettet / dead letters purged")
    return 0


@dataclass
class ReplayResult:
    replayed: int = 0
    """Letters whose readings are now all stored (removed)."""
    readings_stored: int = 0
    still_refused: int = 0
    """Letters (or the refused part of one) kept, with the current reason."""


def replay(
    letters: DeadLetters,
    selected: list[DeadLetter],
    registry: Registry,
    store: TimeSeriesStore,
    now_s: float,
    max_future_s: float,
) -> ReplayResult:
    """Check `selected` again; store what passes; keep what does not with its new reason."""
    from cloud.ingest import check_message
    from edge.wire import Reading, ReadingsBatch, WireError, decode_batch, encode

    result = ReplayResult()
    max_time_ms = int((now_s + max_future_s) * 1000)
    for letter in selected:
        assert letter.id is not None
        payload = letter.payload
        try:
            decode_batch(payload)
        except WireError:
            try:  # one refused reading of a batch whose other readings were stored
                reading = msgspec.json.decode(payload, type=Reading)
            except (msgspec.MsgspecError, UnicodeDecodeError):
                result.still_refused += 1
                continue
            if letter.gateway is None:
                result.still_refused += 1
                continue
            payload = encode(
                ReadingsBatch(
                    v=1, gateway=letter.gateway, batch_id=f"replay-{letter.id}", readings=[reading]
                )
            )
        good, dead, _, _ = check_message(letter.topic, payload, registry, now_s, None, max_time_ms)
        if not good:
            reason = dead[0].reason if dead else letter.reason
            kind = dead[0].kind if dead else letter.kind
            letters.update_reason(letter.id, kind, reason)
            result.still_refused += 1
            continue
        # StoreUnavailable propagates: nothing removed
        store.write_readings(good, [letter.gateway or ""] * len(good))
        result.readings_stored += len(good)
        letters.remove([letter.id])
        if dead:
            letters.record(dead, now_s)
            result.still_refused += 1
        else:
            result.replayed += 1
    return result


def _replay(letters: DeadLetters, args: argparse.Namespace) -> int:
    from cloud.registry import Registry
    from cloud.store.base import StoreRejected, StoreUnavailable
    from cloud.store.open import store_from_args

    if args.registry is None:
        sys.stderr.write("fejl / error: replay needs --registry (the current registry)\n")
        return 2
    try:
        registry = Registry.load(args.registry)
        store = store_from_args(args)
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"fejl / error: {exc}\n")
        return 2
    kinds = args.kind or ([] if args.ids else sorted(REPLAYABLE))
    selected = letters.select(kinds=kinds, gateway=args.gateway, ids=args.ids)
    try:
        result = replay(letters, selected, registry, store, time.time(), args.max_clock_skew)
    except (StoreUnavailable, StoreRejected) as exc:
        sys.stderr.write(
            f"fejl / error: lageret tog ikke imod / the store did not accept: {exc}; "
            "nothing was removed, run replay again\n"
        )
        return 1
    finally:
        store.close()
    _out(
        f"{result.replayed:,} dødbreve genafspillet, {result.readings_stored:,} målinger gemt; "
        f"{result.still_refused:,} stadig afvist / {result.replayed:,} replayed, "
        f"{result.readings_stored:,} readings stored; {result.still_refused:,} still refused"
    )
    return 0
