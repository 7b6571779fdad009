"""Time-series stores behind one interface: InfluxDB (1.x HTTP API) and embedded SQLite."""

from cloud.store.base import (
    CLIMATE,
    Point,
    StoreRejected,
    StoreUnavailable,
    TimeSeriesStore,
    points_from_readings,
)

__all__ = [
    "CLIMATE",
    "Point",
    "StoreRejected",
    "StoreUnavailable",
    "TimeSeriesStore",
    "points_from_readings",
]
