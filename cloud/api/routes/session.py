"""``POST /api/token`` (log in, OAuth2 password form), ``POST /api/logout``, ``GET /api/me``."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from cloud.accounts import LockedOut, LoginFailed
from cloud.accounts.http import CHALLENGE, AccountsDep, CurrentPrincipal, client_address
from cloud.api.schemas import MeOut, MyFlatOut, TokenOut
from cloud.registry import flat_key

router = APIRouter(tags=["login"])


@router.post(
    "/token",
    summary="Log ind / log in",
    responses={
        401: {"description": "wrong username or password"},
        429: {"description": "locked"},
        503: {"description": "too many logins at once"},
    },
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    accounts: AccountsDep,
) -> TokenOut:
    """Username and password (form fields) → a bearer token for ``Authorization: Bearer …``.
    Too many failed attempts lock the username (and the address) for a while: 429 with
    ``Retry-After`` and the time it unlocks."""
    try:
        token, principal = accounts.login(form.username, form.password, client_address(request))
    except LockedOut as exc:
        wait_s = max(1, math.ceil((exc.locked_until - accounts.now()).total_seconds()))
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(wait_s)}
        ) from exc
    except LoginFailed as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers=CHALLENGE) from exc

    request.state.principal = principal
    return TokenOut(
        access_token=token,
        token_type="bearer",
        expires_in=int(accounts.policy.session_ttl.total_seconds()),
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Log ud / log out")
def logout(request: Request, principal: CurrentPrincipal, accounts: AccountsDep) -> Response:
    """End this session (the token stops working at once)."""
    header = request.headers.get("authorization", "")
    accounts.logout(header.partition(" ")[2].strip(), address=client_address(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", summary="Hvem er jeg / who am I")
def me(principal: CurrentPrincipal) -> MeOut:
    return MeOut(
        username=principal.username,
        display_name=principal.display_name,
        role=principal.role,
        flats=[MyFlatOut(building=b, flat=f, key=flat_key(f)) for b, f in sorted(principal.flats)],
        buildings=sorted(principal.buildings),
        organisations=sorted(principal.organisations),
    )
