"""ASGI middleware of the API: a cap on request bodies, and an access log that names the user.

`BodyLimit` answers 413 at once when ``Content-Length`` is above the cap — before the body is
read and before any login check — and for a body without a length (chunked) it counts what
arrives and stops at the cap. `AccessLog` writes one line per request to the logger
``indeklima.api.access``: method, path (no query string), status, milliseconds and the user
(``request.state.principal`` set by the login dependency), never a token or a header.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("indeklima.api.access")


def _too_large_body(limit: int) -> bytes:
    return json.dumps(
        {
            "detail": f"Forespørgslen er for stor (højst {limit} bytes) / the request body is "
            f"too large (at most {limit} bytes)"
        },
        ensure_ascii=False,
    ).encode("utf-8")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = _too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            # Over the cap: answer 413 now and tell the app the client left, so it stops
            # reading (raising here would not do: FastAPI turns body errors into a 400).
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent; drop what the app answers after it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, tracking_send)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            state: dict[str, Any] = scope.get("state") or {}
            principal = state.get("principal")
            user = getattr(principal, "username", None) or "-"
            client = scope.get("client")
            access_log.info(
                "%s %s %s %d %.1fms user=%s",
                client[0] if client else "-",
                scope.get("method", "-"),
                scope.get("path", "-"),
                status,
                (time.perf_counter() - began) * 1000,
                user,
            )
