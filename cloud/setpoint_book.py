"""The set points the technicians have given, per gateway, kept in a JSON file.

Each gateway receives its *whole* configuration on the retained ``…/config`` topic, so the API
needs the current scopes to change one of them. A configuration the gateway refuses is not kept:
the previous one stays the base (and is published again so the retained message is one the
gateway accepts). Bounded: at most `MAX_SCOPES` scopes per gateway.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Final

MAX_SCOPES: Final = 10_000
Scope = dict[str, Any]


def _key(scope: Scope) -> tuple[str, str | None, str | None]:
    return (scope["building"], scope.get("flat"), scope.get("room"))


class SetpointBook:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, list[Scope]] = {}
        if path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(
                    f"sætpunktsfilen {path} kan ikke læses / the set point file {path} cannot "
                    f"be read: {exc} — restore it from a backup or move it away"
                ) from None
            if not isinstance(loaded, dict):
                raise ValueError(f"the set point file {path} is not a JSON object")
            self._data = loaded

    def scopes(self, gateway: str) -> list[Scope]:
        with self._lock:
            return [dict(s) for s in self._data.get(gateway, [])]

    def changed(
        self,
        gateway: str,
        building: str,
        flat: str | None,
        room: str | None,
        values: dict[str, Any],
    ) -> list[Scope]:
        """The gateway's scopes with this one replaced (removed when `values` is empty);
        nothing is stored until `save`."""
        scopes = [s for s in self.scopes(gateway) if _key(s) != (building, flat, room)]
        if values:
            scope: Scope = {"building": building, "values": values}
            if flat is not None:
                scope["flat"] = flat
            if room is not None:
                scope["room"] = room
            scopes.append(scope)
        if len(scopes) > MAX_SCOPES:
            raise ValueError(f"at most {MAX_SCOPES} set point scopes per gateway")
        return scopes

    def save(self, gateway: str, scopes: list[Scope]) -> None:
        with self._lock:
            self._data[gateway] = scopes
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
