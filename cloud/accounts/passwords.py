"""Password hashing with argon2id (argon2-cffi, RFC 9106 parameters) and the password rules.

Each argon2 hash takes 64 MiB and most of a core for a while, so at most `MAX_PARALLEL` run at
once; a caller waits up to `WAIT_S` for a turn and then gets `HasherBusy` (the API answers 503
with Retry-After) — a flood of logins cannot take all memory and CPU.

Rules after NIST SP 800-63B §5.1.1.2: at least `MIN_PASSWORD_CHARS` characters, any characters,
no composition rules; at most `MAX_PASSWORD_CHARS` (an unbounded password is a way to make the
server hash megabytes).
"""

from __future__ import annotations

import threading
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloud.accounts.errors import PasswordRejected

__all__ = [
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "HasherBusy",
    "PasswordRejected",
    "Passwords",
]

MIN_PASSWORD_CHARS: Final = 10
MAX_PASSWORD_CHARS: Final = 256
MAX_PARALLEL: Final = 2
WAIT_S: Final = 10.0


class HasherBusy(RuntimeError):
    """Too many password checks at once; try again shortly."""


def check_new_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejected(
            f"adgangskoden skal have mindst {MIN_PASSWORD_CHARS} tegn / the password needs at "
            f"least {MIN_PASSWORD_CHARS} characters"
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise PasswordRejected(
            f"adgangskoden må højst have {MAX_PASSWORD_CHARS} tegn / the password may have at "
            f"most {MAX_PASSWORD_CHARS} characters"
        )
    if password.strip().casefold() == username.casefold():
        raise PasswordRejected(
            "adgangskoden må ikke være brugernavnet / the password must not be the username"
        )


class Passwords:
    """Hash and verify; `verify` takes about as long for an unknown user as for a known one."""

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        max_parallel: int = MAX_PARALLEL,
        wait_s: float = WAIT_S,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._turns = threading.BoundedSemaphore(max_parallel)
        self._wait_s = wait_s
        self._dummy = self._hasher.hash("indeklima-dummy-password")

    def _turn(self) -> None:
        if not self._turns.acquire(timeout=self._wait_s):
            raise HasherBusy(
                "Mange logger ind lige nu; prøv igen om lidt / many people are logging in right "
                "now; try again shortly"
            )

    def hash(self, password: str) -> str:
        self._turn()
        try:
            return self._hasher.hash(password)
        finally:
            self._turns.release()

    def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored` (None: no such user — a dummy check)."""
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        self._turn()
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False
        finally:
            self._turns.release()

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
