"""Password hashing with argon2id (argon2-cffi, RFC 9106 parameters) and the password rules.

Rules after NIST SP 800-63B §5.1.1.2: at least `MIN_PASSWORD_CHARS` characters, any characters,
no composition rules; at most `MAX_PASSWORD_CHARS` (an unbounded password is a way to make the
server hash megabytes).
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloud.accounts.errors import PasswordRejected

__all__ = ["MAX_PASSWORD_CHARS", "MIN_PASSWORD_CHARS", "PasswordRejected", "Passwords"]

MIN_PASSWORD_CHARS: Final = 10
MAX_PASSWORD_CHARS: Final = 256


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

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("indeklima-dummy-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored` (None: no such user — a dummy check)."""
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
