"""Dynamic heat accounting (dynamisk varmeregnskab): the building's heating cost split between
its flats by measured indoor climate, exactly to the øre, with runs, audit and exports.

Entry points: :func:`cloud.settlement.engine.settle` (pure), :func:`settle_from_store`
(from the time-series store), ``indeklima settle`` (cloud/settlement/cli.py). The default tariff
and the CSV columns are explained in ``TARIFF.md`` next to this file.
"""

from cloud.settlement.engine import SettlementError, settle
from cloud.settlement.model import FlatInfo, FlatStatement, SettlementInputs, SettlementResult
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


def __getattr__(name: str) -> object:
    if name == "settle_from_store":  # imports the store layer only when asked for
        from cloud.settlement.store_io import settle_from_store

        return settle_from_store
    raise AttributeError(name)
