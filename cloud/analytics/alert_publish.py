"""Alerts out to the world: time-series points (Grafana reads them from InfluxDB), MQTT, and
optionally Grafana annotations through ``grafana-client``.

* Points: measurement ``alerts``, tags building/flat/kind, fields state, severity, value,
  ``level`` (0 cleared, 1 warn, 2 alarm: easy to plot), advice_da, advice_en; time = the
  alert's last change.
* MQTT: JSON (`Alert.to_json`) on ``indeklima/v1/alerts/<building>/<flat key>``, QoS 1, not
  retained (a flat can have several alerts; the API holds the current list).
* Grafana: POST /api/annotations (https://grafana.com/docs/grafana/latest/developers/http_api/
  annotations/) via ``GrafanaApi.from_url(url, credential=token).annotations.add_annotation``;
  only when a Grafana URL is configured.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from cloud.analytics.alerts import Alert, AlertState, Severity
from cloud.registry import flat_key
from cloud.store.base import Point
from edge.wire import TOPIC_ROOT

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

ALERTS_MEASUREMENT: Final = "alerts"


def alert_topic(building: str, flat: str) -> str:
    """The flat as its key (`cloud.registry.flat_key`): a flat id may hold ``/``, ``+`` or
    ``#``, which would add topic levels or be refused as wildcards; the payload has the id."""
    return f"{TOPIC_ROOT}/alerts/{building}/{flat_key(flat)}"


def alert_level(alert: Alert) -> int:
    if alert.state is AlertState.CLEARED:
        return 0
    return 2 if alert.severity is Severity.ALARM else 1


def alerts_to_points(alerts: Iterable[Alert]) -> list[Point]:
    return [
        Point(
            ALERTS_MEASUREMENT,
            {"building": a.building, "flat": a.flat, "kind": a.kind.value},
            {
                "state": a.state.value,
                "severity": a.severity.value,
                "value": float(a.value),
                "level": alert_level(a),
                "advice_da": a.advice_da,
                "advice_en": a.advice_en,
            },
            int(a.updated_at.timestamp() * 1_000_000) * 1000,
        )
        for a in alerts
    ]


def publish_alerts(
    client: mqtt.Client, alerts: Iterable[Alert], *, qos: int = 1, wait_s: float | None = 10.0
) -> int:
    """Publish each alert on its flat's topic with a paho client (its network loop running);
    with `wait_s`, wait until the broker has each one (so a disconnect right after loses none).
    Returns how many were sent."""
    infos = []
    for a in alerts:
        info = client.publish(alert_topic(a.building, a.flat), json.dumps(a.to_json()), qos=qos)
        if info.rc != 0:
            log.warning("alarm %s ikke sendt / alert not published (paho rc %s)", a.id, info.rc)
            continue
        infos.append(info)
    if wait_s is not None:
        for info in infos:
            info.wait_for_publish(wait_s)
    return len(infos)


def annotation_request(alert: Alert, *, dashboard_uid: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``grafana_client``'s ``annotations.add_annotation``: a region from
    the alert's raise to its clearing (a point while open), tagged for filtering."""
    start_ms = int(alert.raised_at.timestamp() * 1000)
    end_ms = int(alert.cleared_at.timestamp() * 1000) if alert.cleared_at else start_ms
    request: dict[str, Any] = {
        "time_from": start_ms,
        "time_to": end_ms,
        "tags": [
            "indeklima",
            f"building:{alert.building}",
            f"flat:{alert.flat}",
            f"kind:{alert.kind.value}",
            alert.severity.value,
            alert.state.value,
        ],
        "text": f"{alert.flat}: {alert.kind.value} {alert.severity.value} "
        f"({alert.value:.2f}) — {alert.advice_da}",
    }
    if dashboard_uid is not None:
        request["dashboard_uid"] = dashboard_uid
    return request


def push_annotations(
    alerts: Sequence[Alert],
    grafana_url: str | None,
    *,
    token: str | None = None,
    dashboard_uid: str | None = None,
) -> int:
    """Create one Grafana annotation per alert; does nothing without a URL. Failures are
    logged, not raised: Grafana is a view, never a reason to lose an alert."""
    if not grafana_url or not alerts:
        return 0
    from grafana_client.api import GrafanaApi

    api = GrafanaApi.from_url(grafana_url, credential=token)
    pushed = 0
    try:
        for a in alerts:
            try:
                api.annotations.add_annotation(**annotation_request(a, dashboard_uid=dashboard_uid))
                pushed += 1
            except Exception as exc:  # grafana_client raises many types (HTTP, connection)
                log.warning(
                    "Grafana-annotation for %s fejlede / failed at %s: %s", a.id, grafana_url, exc
                )
    finally:
        api.client.s.close()  # grafana_client keeps a niquests session open otherwise
    return pushed
