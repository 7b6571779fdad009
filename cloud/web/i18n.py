"""Languages of the pages: Danish first, English available, texts in gettext catalogs.

The catalogs are ``cloud/web/locale/{da,en}/LC_MESSAGES/messages.po`` (compiled ``.mo`` beside
them, committed). Texts live in the templates and in `cloud.web.texts`, marked with ``_()``;
Babel extracts them (``babel.cfg`` at the repository root; commands in README.md, "Web app").
The chosen language is remembered in the ``indeklima_lang`` cookie; without one, Danish.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Final

from babel.support import NullTranslations, Translations
from starlette.requests import Request

LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANG_COOKIE: Final = "indeklima_lang"
DOMAIN: Final = "messages"


class Lang(StrEnum):
    DA = "da"
    EN = "en"


DEFAULT_LANG: Final = Lang.DA


def parse_lang(value: str | None) -> Lang:
    """The language a cookie or form names; Danish for anything else (never an error)."""
    try:
        return Lang(value or DEFAULT_LANG)
    except ValueError:
        return DEFAULT_LANG


def language_of(request: Request) -> Lang:
    return parse_lang(request.cookies.get(LANG_COOKIE))


@cache
def translations(lang: Lang) -> NullTranslations:
    """The compiled catalog of `lang`. A missing catalog is a packaging fault, not a user's
    problem: fail loudly rather than show a page half in the wrong language."""
    loaded = Translations.load(str(LOCALE_DIR), [lang.value], DOMAIN)
    if not isinstance(loaded, Translations):
        raise FileNotFoundError(
            f"gettext-katalog mangler for {lang}: kør `pybabel compile -d cloud/web/locale` / "
            f"missing gettext catalog for {lang}: run `pybabel compile -d cloud/web/locale`"
        )
    return loaded


def gettext(lang: Lang, message: str) -> str:
    return translations(lang).ugettext(message)
