"""Who wants alert e-mails for which flat, which alert episodes were mailed to whom, and the
unsubscribe tokens — three small SQLAlchemy tables in the alerts database (SQLite file or
PostgreSQL; created when missing).

**The interface for the pages** (a resident's page toggles the e-mail for their flat):

    with MailPrefs(alerts_url) as prefs:               # or one kept open by the app
        prefs.opted_in(user_id, building, flat)        # -> bool, for the switch
        prefs.set_opt_in(user_id, building, flat, email=address, enabled=True)  # or False
        prefs.forget(user_id)                          # erasure: opt-ins, addresses, sent log

`user_id` is the account's id as text (``str(principal.user_id)``, cloud/accounts); `email` is
the address the resident gives when opting in (accounts hold no e-mail address). Whether the
person may opt in for that flat (``principal.lives_in(flat)``) is the caller's authorisation
check, as for every other page action; at send time the mailer checks again through a
`ResidentDirectory` that the subscriber still lives there and the account is active.

Tables (bounded): ``mail_optin`` one row per (subscriber, building, flat); ``mail_sent`` one row
per (subscriber, alert episode), deleted once the episode is too old to be mailed again
(`MailPrefs.prune_sent`); ``mail_key`` the one signing key of the unsubscribe tokens, made with
`secrets` on first use and kept in the database, so the jobs (which write the links) and the web
app (which checks them) share it without another secret to configure.

An unsubscribe token is ``payload.signature``: the payload names the subscription and its random
nonce (128 bits, new at each opt-in), the signature is HMAC-SHA256 over it with the key. A token
works only while its signature and nonce both match: forging one needs the key, and opting in
again makes old links void.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

import orjson
from sqlalchemy import Boolean, DateTime, Integer, String, create_engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MAX_TOKEN_CHARS: Final = 1_000


class ResidentDirectory(Protocol):
    """Where the mailer checks, at send time, that a subscriber may still get the flat's alerts
    (lives there at `now` — not moved out —, account not disabled or erased):
    `cloud.mail.directory.AccountsDirectory`."""

    def still_resident(self, subscriber: str, building: str, flat: str, now: datetime) -> bool: ...


class _Base(DeclarativeBase):
    pass


class _OptIn(_Base):
    __tablename__ = "mail_optin"

    subscriber: Mapped[str] = mapped_column(String(200), primary_key=True)
    building: Mapped[str] = mapped_column(String(64), primary_key=True)
    flat: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    enabled: Mapped[bool] = mapped_column(Boolean, index=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    nonce: Mapped[str] = mapped_column(String(64))


class _Sent(_Base):
    __tablename__ = "mail_sent"

    subscriber: Mapped[str] = mapped_column(String(200), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _Key(_Base):
    __tablename__ = "mail_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128))


@dataclass(frozen=True, slots=True)
class Subscription:
    subscriber: str
    building: str
    flat: str
    email: str
    enabled: bool
    since: datetime
    """When it was (last) turned on: only alerts raised since then are mailed."""
    nonce: str


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _subscription(row: _OptIn) -> Subscription:
    return Subscription(
        row.subscriber,
        row.building,
        row.flat,
        row.email,
        row.enabled,
        _utc(row.since),
        row.nonce,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MailPrefs:
    """``MailPrefs("sqlite:///alerts.sqlite")`` or a Path; `close()` safe to call twice."""

    def __init__(self, url: str | Path) -> None:
        self.url = f"sqlite:///{url}" if isinstance(url, Path) else url
        self._engine = create_engine(self.url)
        _Base.metadata.create_all(self._engine)
        self._key = self._signing_key()

    def _signing_key(self) -> bytes:
        try:
            with Session(self._engine) as session, session.begin():
                row = session.get(_Key, 1)
                if row is None:
                    session.add(_Key(id=1, key=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process (an API worker starting beside this one) made it first
        with Session(self._engine) as session:  # a racing process may have written first
            stored = session.get(_Key, 1)
            assert stored is not None
            return bytes.fromhex(stored.key)

    # opt-in (the pages)

    def set_opt_in(
        self,
        subscriber: str,
        building: str,
        flat: str,
        *,
        email: str,
        enabled: bool,
        now: datetime | None = None,
    ) -> Subscription:
        """Turn the alert e-mail for the flat on or off for this subscriber. Turning it on
        (again) starts from `now`: earlier alerts are not mailed, and old unsubscribe links
        stop working."""
        moment = _utc(now or datetime.now(UTC))
        if "@" not in email or any(ch in email for ch in "\r\n"):
            raise ValueError(f"{email!r} er ikke en e-mailadresse / is not an e-mail address")
        with Session(self._engine) as session, session.begin():
            row = session.get(_OptIn, (subscriber, building, flat))
            if row is None:
                row = _OptIn(
                    subscriber=subscriber,
                    building=building,
                    flat=flat,
                    email=email,
                    enabled=enabled,
                    since=moment,
                    updated_at=moment,
                    nonce=secrets.token_hex(16),
                )
                session.add(row)
            else:
                if enabled and not row.enabled:
                    row.since = moment
                    row.nonce = secrets.token_hex(16)
                row.enabled = enabled
                row.email = email
                row.updated_at = moment
            session.flush()
            return _subscription(row)

    def opted_in(self, subscriber: str, building: str, flat: str) -> bool:
        with Session(self._engine) as session:
            row = session.get(_OptIn, (subscriber, building, flat))
            return row is not None and row.enabled

    def subscriptions(self, *, enabled: bool = True) -> list[Subscription]:
        stmt = select(_OptIn).where(_OptIn.enabled == enabled)
        stmt = stmt.order_by(_OptIn.building, _OptIn.flat, _OptIn.subscriber)
        with Session(self._engine) as session:
            return [_subscription(row) for row in session.scalars(stmt)]

    def forget(self, subscriber: str) -> int:
        """Erase everything about the subscriber (GDPR erasure): their opt-ins, with the
        e-mail addresses, and the record of mails sent to them. Returns the rows deleted."""
        with Session(self._engine) as session, session.begin():
            gone = session.execute(delete(_OptIn).where(_OptIn.subscriber == subscriber))
            sent = session.execute(delete(_Sent).where(_Sent.subscriber == subscriber))
            return sum(int(getattr(r, "rowcount", 0) or 0) for r in (gone, sent))

    # unsubscribe tokens

    def unsubscribe_token(self, subscription: Subscription) -> str:
        payload = _b64(
            orjson.dumps(
                [
                    subscription.subscriber,
                    subscription.building,
                    subscription.flat,
                    subscription.nonce,
                ]
            )
        )
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def subscription_for_token(self, token: str) -> Subscription | None:
        """The subscription a valid token names (on or off), else None — never an error."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            return None
        payload, signature = token.split(".")
        try:
            expected = self._sign(payload)
        except UnicodeEncodeError:
            return None
        if not hmac.compare_digest(signature.encode("ascii", "replace"), expected.encode()):
            return None
        try:
            subscriber, building, flat, nonce = orjson.loads(_unb64(payload))
        except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
            return None
        with Session(self._engine) as session:
            row = session.get(_OptIn, (str(subscriber), str(building), str(flat)))
            if row is None or not hmac.compare_digest(row.nonce, str(nonce)):
                return None
            return _subscription(row)

    def unsubscribe(self, token: str, now: datetime | None = None) -> Subscription | None:
        """Turn off the subscription the token names; None when the token is not valid."""
        found = self.subscription_for_token(token)
        if found is None:
            return None
        return self.set_opt_in(
            found.subscriber, found.building, found.flat, email=found.email, enabled=False, now=now
        )

    # what was sent (the mailer)

    def was_sent(self, subscriber: str, alert_id: str) -> bool:
        with Session(self._engine) as session:
            return session.get(_Sent, (subscriber, alert_id)) is not None

    def record_sent(
        self, subscriber: str, alert_id: str, raised_at: datetime, sent_at: datetime
    ) -> None:
        with Session(self._engine) as session, session.begin():
            session.merge(
                _Sent(
                    subscriber=subscriber,
                    alert_id=alert_id,
                    raised_at=_utc(raised_at),
                    sent_at=_utc(sent_at),
                )
            )

    def prune_sent(self, raised_before: datetime) -> int:
        """Forget mails of episodes raised before this (too old to be mailed again)."""
        with Session(self._engine) as session, session.begin():
            result = session.execute(delete(_Sent).where(_Sent.raised_at < _utc(raised_before)))
            return int(getattr(result, "rowcount", 0) or 0)

    def sent_count(self) -> int:
        from sqlalchemy import func

        with Session(self._engine) as session:
            return int(session.scalar(select(func.count()).select_from(_Sent)) or 0)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> MailPrefs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
