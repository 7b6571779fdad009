"""CSRF protection of every form: a token bound to the session (or, before login, to a random
pre-session cookie) with the server's key, sent in a hidden field and checked on every POST.

token = HMAC-SHA256(key, purpose ":" binding), URL-safe base64. The binding is the session
token after login, so a token from another person's (or an old) session never matches; before
login it is the ``indeklima_presession`` cookie (random, HttpOnly, SameSite=Strict). The key is
random per process unless ``INDEKLIMA_WEB_SECRET_KEY`` sets it; a form opened before a restart
then fails the check and is shown again with a fresh token and a message, never a traceback.
The session cookie itself is SameSite=Lax, so a cross-site POST does not even carry it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

PRESESSION_COOKIE: Final = "indeklima_presession"
FIELD: Final = "csrf_token"


def new_key() -> bytes:
    return secrets.token_bytes(32)


def new_binding() -> str:
    return secrets.token_urlsafe(24)


def token(key: bytes, binding: str, purpose: str = "form") -> str:
    digest = hmac.new(key, f"{purpose}:{binding}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def valid(key: bytes, binding: str | None, presented: str | None, purpose: str = "form") -> bool:
    """Whether `presented` is the token of `binding`; constant time; False for anything absent."""
    if not binding or not presented or len(presented) > 100:
        return False
    return hmac.compare_digest(token(key, binding, purpose), presented)
