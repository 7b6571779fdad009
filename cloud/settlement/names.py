"""File names from ids: a safe slug plus a short hash, never the raw id.

Ids are text chosen by people (``0101``, ``1,10``, ``Østergade 1/2 th``, even ``../x``). A file
name made from one keeps ASCII letters, digits and ``-`` (Danish letters spelled out: æ → ae,
ø → oe, å → aa), at most 40 characters, and ends in 8 hex digits of the id's SHA-256, so two ids
that slug alike (``1/2`` and ``1-2``) still get different names, and no id can leave the folder.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

_DANISH: Final = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
MAX_SLUG: Final = 40


def slug(text: str) -> str:
    """ASCII letters, digits and single ``-`` only; ``x`` when nothing is left."""
    ascii_ = unicodedata.normalize("NFKD", text.translate(_DANISH))
    ascii_ = ascii_.encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", ascii_).strip("-")[:MAX_SLUG].strip("-")
    return cleaned or "x"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def safe_stem(*parts: str) -> str:
    """``varmeregnskab_B1_Oestergade-1-2-th-3f2a9c1e``-style stem: each part as slug + hash."""
    return "_".join(f"{slug(p)}-{short_hash(p)}" for p in parts)


def statement_filename(building_id: str, flat_id: str) -> str:
    """The PDF statement's file name for a flat (no directory part, ever)."""
    return f"varmeregnskab_{safe_stem(building_id, flat_id)}.pdf"
