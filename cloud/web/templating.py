"""Jinja2 environments, one per language (gettext installed with newstyle ``_()``), and
`render` that turns a template and plain data into an HTML response.

One environment per language rather than one switched per request: the pages are rendered in
uvicorn's worker threads, and ``install_gettext_translations`` changes the environment's globals.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from cloud.registry import flat_key
from cloud.web.i18n import Lang, translations

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
LOCAL_TZ: Final = ZoneInfo("Europe/Copenhagen")
_LOCALES: Final = {Lang.DA: "da_DK", Lang.EN: "en_GB"}
PAGE_HEADERS: Final = {
    # scripts only from this site (the vendored uPlot and charts.js; the charts' data is an
    # inert application/json block); no framing of the forms by other sites (clickjacking)
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _filters(lang: Lang) -> dict[str, Any]:
    locale = _LOCALES[lang]

    def number(value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(value, format=pattern, locale=locale)

    def local_time(value: datetime | None, fmt: str = "short") -> str:
        """Aware UTC inside; Danish local time on the page."""
        if value is None:
            return "–"
        return format_datetime(value.astimezone(LOCAL_TZ), fmt, tzinfo=LOCAL_TZ, locale=locale)

    def local_date(value: Any, fmt: str = "long") -> str:
        if value is None:
            return "–"
        return format_date(value, fmt, locale=locale)

    return {
        "number": number,
        "local_time": local_time,
        "local_date": local_date,
        "flat_key": flat_key,  # links to /flats/<key>: ids may hold "/" (cloud.registry)
    }


@cache
def environment(lang: Lang) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(("html",)),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(_filters(lang))
    env.globals["lang"] = lang.value
    return env


def render_text(lang: Lang, template: str, data: Mapping[str, Any]) -> str:
    return environment(lang).get_template(template).render(**data)


def render(
    lang: Lang,
    template: str,
    data: Mapping[str, Any],
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return HTMLResponse(
        render_text(lang, template, data),
        status_code=status_code,
        headers={**PAGE_HEADERS, **(headers or {})},
    )
