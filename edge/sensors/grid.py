"""One time grid per device that measures on a fixed interval (Aranet4), so a measurement gets
the same timestamp whether it arrived live or from the device's history.

The device sends no clock: a live advert says how old its measurement is (whole seconds), the
history says how long ago the newest record was logged. Both give ``now − age`` with a second
or two of jitter and whatever sub-second part ``now`` had — so the same measurement would get
two different store keys and be stored twice. Snapping every estimate to the nearest point of
``anchor + k·interval`` (the anchor being the device's first estimate, in whole seconds, or
the last time stored for it before a restart) gives each measurement exactly one time. An
estimate further than ``tolerance_s`` from the grid means the device's phase changed (it was
restarted): the grid moves to it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Final

DEFAULT_TOLERANCE_S: Final = 5.0
"""Well above the jitter of ``now − age`` (whole-second ages plus radio latency, ~2 s) and far
below any Aranet4 interval (≥ 60 s)."""


def whole_second(time: datetime) -> datetime:
    """Rounded to the nearest whole second (half up), aware UTC."""
    seconds = math.floor(time.timestamp() + 0.5)
    return datetime.fromtimestamp(seconds, tz=UTC)


class MeasurementGrid:
    """Per-device measurement grids. Not thread-safe: the gateway calls it under its lock."""

    def __init__(self, tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        if tolerance_s <= 0:
            raise ValueError(f"tolerance_s must be positive, got {tolerance_s}")
        self.tolerance_s = tolerance_s
        self._anchors: dict[str, datetime] = {}

    def seed(self, device: str, time: datetime) -> None:
        """Start the device's grid at a time stored before (kept if one exists already)."""
        if time.tzinfo is None:
            raise ValueError(f"seed time must be timezone-aware UTC, got naive {time}")
        self._anchors.setdefault(device, time)

    def snap(self, device: str, estimate: datetime, interval_s: float) -> datetime:
        """The grid point for an estimated measurement time of ``device``."""
        if estimate.tzinfo is None:
            raise ValueError(f"estimate must be timezone-aware UTC, got naive {estimate}")
        if interval_s < 2 * self.tolerance_s:  # too fine to tell grid points apart
            return whole_second(estimate)
        anchor = self._anchors.get(device)
        if anchor is not None:
            interval = timedelta(seconds=interval_s)
            steps = round((estimate - anchor) / interval)
            candidate = anchor + steps * interval
            if abs((estimate - candidate).total_seconds()) <= self.tolerance_s:
                return candidate
        anchor = self._anchors[device] = whole_second(estimate)
        return anchor
