"""The unsubscribe link of the alert e-mails, without login: ``GET /mail/unsubscribe?token=…``
shows what the link does and a button; the button (and a mail client's RFC 8058 one-click
``POST`` to the same address) turns the mail off. A GET alone changes nothing, so a mail
scanner that follows links cannot unsubscribe anyone. An invalid, forged or outdated token is
answered 404 with the same page for every such token (it tells nothing about why).

`mount_unsubscribe(app, url)` adds the routes and opens the `MailPrefs` for the app's lifetime
(closed when the app stops) — one line in `create_app`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html import escape
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse

from cloud.mail.compose import UNSUBSCRIBE_PATH
from cloud.mail.prefs import MAX_TOKEN_CHARS, MailPrefs

router = APIRouter(tags=["mail"])

Token = Annotated[
    str, Query(max_length=MAX_TOKEN_CHARS, description="fra mailens link / from the mail's link")
]
_INVALID: Final = (
    "Linket virker ikke",
    "Linket er ugyldigt eller forældet (du har måske tilmeldt dig igen siden). Slå mails fra på "
    "din side i stedet.",
    "The link is invalid or out of date (you may have opted in again since). Turn the mails off "
    "on your page instead.",
)


def _page(title: str, danish: str, english: str, form: str = "", status: int = 200) -> HTMLResponse:
    body = f"""<!doctype html>
<html lang="da"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} – indeklima</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em; margin: 1em auto;
 padding: 0 1em">
<main>
<h1>{escape(title)}</h1>
<p>{escape(danish)}</p>
{form}
<p lang="en">{escape(english)}</p>
</main>
</body></html>
"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _prefs(request: Request) -> MailPrefs:
    prefs: MailPrefs = request.app.state.mail_prefs
    return prefs


@router.get(UNSUBSCRIBE_PATH, response_class=HTMLResponse, summary="Afmeld alarm-mails")
def confirm_page(request: Request, token: Token) -> HTMLResponse:
    found = _prefs(request).subscription_for_token(token)
    if found is None:
        return _page(*_INVALID, status=404)
    if not found.enabled:
        return _page(
            "Allerede afmeldt",
            f"Du får ikke mails om lejlighed {found.flat}.",
            f"You get no mails about flat {found.flat}.",
        )
    form = (
        f'<form method="post" action="{UNSUBSCRIBE_PATH}?token={escape(token)}">'
        '<button type="submit">Afmeld / Unsubscribe</button></form>'
    )
    return _page(
        "Afmeld alarm-mails",
        f"Vil du ikke længere have e-mails om advarsler for lejlighed {found.flat}? Tryk på "
        "knappen.",
        f"No more e-mails about warnings for flat {found.flat}? Press the button.",
        form,
    )


@router.post(UNSUBSCRIBE_PATH, response_class=HTMLResponse, summary="Afmeld alarm-mails")
def unsubscribe(
    request: Request,
    token: Token,
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe")] = None,
) -> HTMLResponse:
    done = _prefs(request).unsubscribe(token)
    if done is None:
        return _page(*_INVALID, status=404)
    return _page(
        "Afmeldt",
        f"Du får ikke flere e-mails om advarsler for lejlighed {done.flat}. Du kan slå dem til "
        "igen på din side.",
        f"You will get no more e-mails about warnings for flat {done.flat}. You can turn them "
        "on again on your page.",
    )


def mount_unsubscribe(app: FastAPI, url: str) -> None:
    """Serve the unsubscribe routes, with `MailPrefs` on `url` open while the app runs."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        prefs = MailPrefs(url)
        app.state.mail_prefs = prefs
        try:
            async with inner(app) as state:
                yield state
        finally:
            prefs.close()

    app.router.lifespan_context = lifespan
    app.include_router(router)
