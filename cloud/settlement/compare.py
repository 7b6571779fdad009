"""Dynamic account vs radiator-meter billing on a simulated building (DOMAIN.md: the Danish
trials saw the highest bill up to ~8x the lowest with radiator meters, ~2x with the dynamic
account)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cloud.settlement.model import SettlementResult


def compare_with_radiator_billing(
    flat_truth: pd.DataFrame, settlement: SettlementResult
) -> dict[str, Any]:
    """Per-flat amounts under both keys, and max/min ratios per m² and of the whole bills.

    ``flat_truth`` has one row per flat with ``flat`` and ``radiator_kwh`` (the simulator's
    totals), or one row per flat and time with ``radiator_w`` (the mean is used). Radiator-meter
    billing charges each flat its share of the building's radiator heat; the ratios compare
    cost per m² so that flat size does not count.
    """
    frame = flat_truth.reset_index() if "flat" not in flat_truth.columns else flat_truth
    column = "radiator_kwh" if "radiator_kwh" in frame.columns else "radiator_w"
    heat = frame.groupby("flat")[column].mean().clip(lower=0.0)
    statements = {s.flat_id: s for s in settlement.statements}
    missing = sorted(set(statements) - set(heat.index))
    if missing:
        raise ValueError(f"no radiator truth for flats {missing}")
    ids = sorted(statements)
    area = pd.Series({f: statements[f].area_m2 for f in ids})
    dynamic = pd.Series({f: statements[f].amount_ore / 100 for f in ids})
    radiator = heat.loc[ids] / heat.loc[ids].sum() * settlement.cost_ore / 100
    per_m2_dyn, per_m2_rad = dynamic / area, radiator / area

    def ratio(s: pd.Series) -> float:
        low = float(s.min())
        return float("inf") if low <= 0 else float(s.max()) / low

    return {
        "dynamic_max_min_ratio": ratio(per_m2_dyn),
        "radiator_max_min_ratio": ratio(per_m2_rad),
        "dynamic_bill_max_min_ratio": ratio(dynamic),
        "radiator_bill_max_min_ratio": ratio(radiator),
        "dynamic_dkk": dynamic.round(2).to_dict(),
        "radiator_dkk": radiator.round(2).to_dict(),
    }
