"""SHA-256 of a settlement's canonicalised inputs, recorded with every run.

Canonical form: a JSON header (sorted keys; building, period, cost in øre, tariff hash, flats
sorted by id, grid start and step, dates) followed by each climate matrix with its rows in flat-id
order and the weather vector, as little-endian float64 with every NaN written as the same quiet
NaN. Two runs with equal data give the same hash whatever order the CSV rows came in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import numpy as np

from cloud.settlement.model import SettlementInputs
from cloud.settlement.series import CHUNK_ROWS, FloatArray
from cloud.settlement.tariff import tariff_sha256


def _update_matrix(h: hashlib._Hash, matrix: FloatArray, rows: Sequence[int] | None) -> None:
    n = matrix.shape[0] if rows is None else len(rows)
    for lo in range(0, n, CHUNK_ROWS):
        part = slice(lo, lo + CHUNK_ROWS)
        block = np.asarray(matrix[part] if rows is None else matrix[rows[part]], dtype="<f8")
        nan = np.isnan(block)
        if nan.any():
            block = np.where(nan, np.nan, block)
        h.update(np.ascontiguousarray(block).data)


def input_sha256(inputs: SettlementInputs) -> str:
    flats = sorted(inputs.flats, key=lambda f: f.flat_id)
    header = {
        "building": inputs.building_id,
        "period_start": inputs.period_start.isoformat(),
        "period_end": inputs.period_end.isoformat(),
        "cost_ore": inputs.cost_ore,
        "tariff_sha256": tariff_sha256(inputs.tariff),
        "statement_date": inputs.statement_date.isoformat(),
        "bill_received": inputs.bill_received.isoformat() if inputs.bill_received else None,
        "flats": [
            [
                f.flat_id,
                repr(f.area_m2),
                repr(f.position_factor),
                f.aconto_ore,
                f.monthly_rent_ore,
                None if f.hca_units is None else repr(f.hca_units),
                f.previous_amount_ore,
            ]
            for f in flats
        ],
        "climate": {
            "flat_ids": sorted(inputs.climate.flat_ids),
            "start": inputs.climate.start.isoformat(),
            "step_s": inputs.climate.step_s,
            "window": inputs.climate.window_open_pct is not None,
        },
        "weather": {"start": inputs.weather.start.isoformat(), "step_s": inputs.weather.step_s},
    }
    h = hashlib.sha256(json.dumps(header, sort_keys=True).encode("utf-8"))
    ids = list(inputs.climate.flat_ids)
    order = sorted(range(len(ids)), key=ids.__getitem__)
    rows = None if order == list(range(len(ids))) else order
    c = inputs.climate
    matrices = [c.temperature_c, c.humidity_pct, c.co2_ppm]
    if c.window_open_pct is not None:
        matrices.append(c.window_open_pct)
    for m in matrices:
        _update_matrix(h, m, rows)
    _update_matrix(h, inputs.weather.temperature_c.reshape(1, -1), None)
    return h.hexdigest()
