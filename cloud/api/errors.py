"""Error bodies in Danish, then English: ``{"detail": "... / ..."}`` for every error the API
answers, including FastAPI's own validation errors and Starlette's 404/405."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.accounts.passwords import HasherBusy
from cloud.accounts.scope import Denied
from cloud.store.base import StoreUnavailable

log = logging.getLogger(__name__)

_DEFAULT_DETAILS = {
    404: "Ikke fundet: tjek adressen (se /docs) / not found: check the address (see /docs)",
    405: "Metoden er ikke tilladt her (se /docs) / method not allowed here (see /docs)",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code in _DEFAULT_DETAILS and " / " not in str(detail):
        detail = _DEFAULT_DETAILS[exc.status_code]
    return JSONResponse({"detail": detail}, exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
        for err in exc.errors()
    )[:2000]
    return JSONResponse(
        {
            "detail": f"Ugyldig forespørgsel ({problems}); se /docs / invalid request "
            f"({problems}); see /docs",
            "errors": jsonable_encoder(  # no "input": it may be a password, or megabytes
                [{k: err.get(k) for k in ("loc", "msg", "type")} for err in exc.errors()]
            ),
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("time-series store unavailable for %s: %s", request.url.path, exc)
    return JSONResponse(
        {
            "detail": f"Tidsseriedatabasen svarer ikke ({exc}); prøv igen om lidt / the "
            f"time-series store is not reachable ({exc}); try again shortly"
        },
        status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "30"},
    )


async def _denied(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Denied)
    return JSONResponse({"detail": exc.reason}, exc.status)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    log.warning("password hashing busy for %s", request.url.path)
    return JSONResponse({"detail": str(exc)}, 503, headers={"Retry-After": "5"})


def install(app: FastAPI) -> None:
    app.add_exception_handler(Denied, _denied)
    app.add_exception_handler(HasherBusy, _busy)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
