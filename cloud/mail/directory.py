"""`ResidentDirectory` on issue 9's accounts: a subscriber (the user id as text) may get a flat's
alert mails while the account is an active resident of that flat of that building — not after
moving out (`residents.until`): the flat's alerts are then the next residents'."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from cloud.accounts.models import FlatRow, Resident, User
from cloud.accounts.principal import Role


class AccountsDirectory:
    """Reads the accounts database; the caller owns `engine` (``make_engine(url)``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def still_resident(self, subscriber: str, building: str, flat: str, now: datetime) -> bool:
        """Whether the subscriber lives in the flat at `now` (aware)."""
        if not subscriber.isdecimal() or len(subscriber) > 18:
            return False
        moment = now.astimezone(UTC)
        stmt = (
            select(User.id)
            .join(Resident, Resident.user_id == User.id)
            .join(FlatRow, FlatRow.id == Resident.flat_id)
            .where(
                User.id == int(subscriber),
                User.role == Role.RESIDENT.value,
                User.disabled_at.is_(None),
                User.erased_at.is_(None),
                Resident.flat_id == flat,
                or_(Resident.until.is_(None), Resident.until > moment),
                FlatRow.building_id == building,
            )
        )
        with Session(self.engine) as session:
            return session.scalar(stmt) is not None
