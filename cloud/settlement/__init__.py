"""Dynamic heat accounting (dynamisk varmeregnskab): the building's heating cost split between
its flats by measured indoor climate, exactly to the øre, with runs, audit and exports.

Entry points: :func:`cloud.settlement.engine.settle` (pure), :func:`settle_from_store`
(from the time-series store), ``indeklima settle`` (cloud/settlement/cli.py). The default tariff
and the CSV columns are explained in ``TARIFF.md`` next to this file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cloud.settlement.engine import SettlementError, settle
    from cloud.settlement.model import (
        FlatInfo,
        FlatStatement,
        SettlementInputs,
        SettlementResult,
    )
    from cloud.settlement.store_io import settle_from_store
    from cloud.settlement.tariff import Method, Tariff, default_tariff, load_tariff

__all__ = [
    "FlatInfo",
    "FlatStatement",
    "Method",
    "SettlementError",
    "SettlementInputs",
    "SettlementResult",
    "Tariff",
    "default_tariff",
    "load_tariff",
    "settle",
    "settle_from_store",
]

_HOME: Final = {
    "FlatInfo": "model",
    "FlatStatement": "model",
    "SettlementInputs": "model",
    "SettlementResult": "model",
    "Method": "tariff",
    "Tariff": "tariff",
    "default_tariff": "tariff",
    "load_tariff": "tariff",
    "SettlementError": "engine",
    "settle": "engine",
    "settle_from_store": "store_io",
}
"""Imported when first asked for: `cloud.settlement.names` (file names and the flats' URL keys,
used by the registry) must not pull numpy and pandas into ingest and the gateway tools."""


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"cloud.settlement.{home}"), name)
