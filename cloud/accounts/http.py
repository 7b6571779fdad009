"""FastAPI glue for accounts: where the app keeps `Accounts`, who is asking, from where.

The app puts its one `Accounts` object on ``app.state.accounts`` when it starts. The API reads
the session token from ``Authorization: Bearer <token>`` (`CurrentPrincipal`); the web pages
read the same token from the HttpOnly cookie `SESSION_COOKIE` (`principal_from_cookie`).
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer

from cloud.accounts.principal import Principal
from cloud.accounts.service import Accounts

SESSION_COOKIE: Final = "indeklima_session"
TOKEN_URL: Final = "/api/token"
CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}

_bearer = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="Log ind med brugernavn og adgangskode / log in with username and password",
)


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


async def _accounts(request: Request) -> Accounts:
    return get_accounts(request)  # async: no thread-pool hop for an attribute lookup


AccountsDep = Annotated[Accounts, Depends(_accounts)]


def client_address(request: Request) -> str:
    """The peer's address (behind a proxy: run uvicorn with ``--proxy-headers`` and
    ``--forwarded-allow-ips`` so this is the client, not the proxy)."""
    return request.client.host if request.client else "unknown"


def current_principal(
    request: Request, accounts: AccountsDep, token: Annotated[str | None, Depends(_bearer)]
) -> Principal:
    """The logged-in person from the bearer token; 401 (with ``WWW-Authenticate: Bearer``)
    without a token or with an unknown, expired or revoked one."""
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Log ind: hent en nøgle med POST /api/token og send 'Authorization: Bearer "
            "<nøgle>' / log in: get a token from POST /api/token and send 'Authorization: "
            "Bearer <token>'",
            headers=CHALLENGE,
        )
    principal = accounts.principal_for_token(token)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Nøglen er ukendt, udløbet eller tilbagekaldt: log ind igen / the token is unknown, "
            "expired or revoked: log in again",
            headers=CHALLENGE,
        )
    request.state.principal = principal  # for the access log: the user, never the token
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def principal_from_cookie(request: Request) -> Principal | None:
    """The logged-in person from the `SESSION_COOKIE` cookie, or None (pages redirect to their
    login form). Sets ``request.state.principal`` for the access log."""
    accounts = get_accounts(request)
    principal = accounts.principal_for_token(request.cookies.get(SESSION_COOKIE))
    if principal is not None:
        request.state.principal = principal
    return principal
