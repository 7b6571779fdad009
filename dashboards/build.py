"""Grafana dashboards for technicians, as code: ``python dashboards/build.py [--check]``.

Built with grafana-foundation-sdk (https://github.com/grafana/grafana-foundation-sdk): one function
per panel, shared InfluxQL helpers, deterministic JSON (sorted keys, panel ids in build order) in
``dashboards/generated/``. Never edit the JSON by hand: tests/test_dashboards.py fails when it
differs from a fresh build. ``--check`` exits 1 when the generated files are stale.

Data (InfluxDB 1.x, database ``indeklima``, InfluxQL; see cloud/ for the writers):

* ``climate``: tags building, flat, room, sensor, gateway (the gateway that sent it); fields
  temperature_c, humidity_pct, co2_ppm, battery_mv, rssi_dbm, ... (cloud/store/base.py)
* ``ingest``: tag ingest (client id); fields readings_per_s, readings_stored, messages, lag_s,
  dead_letters, dead_letters_dropped, store_retries (cloud/ingest.py, IngestStats.point)
* ``mould``: tags building, flat, room; fields mould_index, surface_rh_pct (cloud/jobs/mould_job.py)
* ``comfort_index``: tags building, flat; fields light, share_level_1..4 (cloud/jobs/runner.py)
* ``heat_share``: tags building, flat; fields share_pct, estimated_dkk
  (cloud/settlement/estimate.py)
* ``alerts``: tags building, flat, kind; fields state, severity, value, level, advice_da
  (cloud/analytics/alert_publish.py)

Thresholds are the alert rules' (cloud/analytics/alerts.py): CO2 1220/1770 ppm (EN 16798-1
categories III/IV), surface RH 80/90 % (Ojanen et al. 2010), mould index 1/3 (VTT model).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

from grafana_foundation_sdk.builders import bargauge, dashboard, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm

GENERATED: Final = Path(__file__).resolve().parent / "generated"
DATASOURCE: Final = dm.DataSourceRef(type_val="influxdb", uid="indeklima-influxdb")
"""The provisioned data source (dashboards/provisioning/datasources/influxdb.yaml)."""
TAGS: Final = ["indeklima"]
FILTER: Final = ('"building" =~ /^$building$/', '"flat" =~ /^$flat$/')
"""Every panel follows the dashboard's building and flat variables."""


# -- InfluxQL ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfluxQuery(cogvariants.Dataquery):
    """A raw InfluxQL target of Grafana's InfluxDB data source (the SDK has no builder for it)."""

    ref_id: str
    query: str
    alias: str = ""
    result_format: str = "time_series"

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "datasource": DATASOURCE.to_json(),
            "query": self.query,
            "rawQuery": True,
            "refId": self.ref_id,
            "resultFormat": self.result_format,
        }
        if self.alias:
            payload["alias"] = self.alias
        return payload


class Target(cogbuilder.Builder[cogvariants.Dataquery]):
    def __init__(self, ref_id: str, query: str, alias: str = "", fmt: str = "time_series") -> None:
        self._query = InfluxQuery(ref_id, query, alias, fmt)

    def build(self) -> InfluxQuery:
        return self._query


def ident(name: str) -> str:
    """An InfluxQL identifier, double-quoted."""
    return '"' + name.replace('"', '\\"') + '"'


BUILDING_ONLY: Final = FILTER[:1]
NO_FILTER: Final[tuple[str, ...]] = ()


def where(*conditions: str, time_filter: bool = True, filters: Sequence[str] = FILTER) -> str:
    parts = [*filters, *conditions]
    if time_filter:
        parts.append("$timeFilter")
    return " WHERE " + " AND ".join(parts)


def aggregate(
    measurement: str,
    field: str,
    fn: str = "mean",
    *,
    by: Sequence[str] = ("flat",),
    conditions: Sequence[str] = (),
    interval: str = "$__interval",
    filters: Sequence[str] = FILTER,
) -> str:
    """``SELECT fn(field) FROM measurement WHERE … GROUP BY time(interval), tags fill(null)``."""
    group = ", ".join([f"time({interval})", *(ident(tag) for tag in by)])
    return (
        f"SELECT {fn}({ident(field)}) AS {ident(field)} FROM {ident(measurement)}"
        f"{where(*conditions, filters=filters)} GROUP BY {group} fill(null)"
    )


def latest(
    measurement: str,
    fields: Sequence[str],
    *,
    by: Sequence[str] = ("flat",),
    conditions: Sequence[str] = (),
    filters: Sequence[str] = FILTER,
) -> str:
    """The last value of each field per tag set in the time range (for tables)."""
    selected = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in fields)
    group = ", ".join(ident(tag) for tag in by)
    return (
        f"SELECT {selected} FROM {ident(measurement)}"
        f"{where(*conditions, filters=filters)} GROUP BY {group}"
    )


def raw(
    measurement: str, fields: Sequence[str], *, limit: int = 200, filters: Sequence[str] = FILTER
) -> str:
    """Rows as stored, newest first (for event tables such as alerts)."""
    selected = ", ".join(ident(f) for f in fields)
    return (
        f"SELECT {selected} FROM {ident(measurement)}{where(filters=filters)} "
        f"ORDER BY time DESC LIMIT {limit}"
    )


def tag_values(measurement: str, key: str, *conditions: str) -> str:
    tail = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SHOW TAG VALUES FROM {ident(measurement)} WITH KEY = {ident(key)}{tail}"


# -- shared panel pieces ---------------------------------------------------------------------------


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def series(
    title: str, description: str, unit: str, *targets: Target, span: int = 8
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(8)
        .span_nulls(False)
    )
    for target in targets:
        panel = panel.with_target(target)
    return panel


class _Layout:
    """Panel ids in build order: stable across builds."""

    def __init__(self, board: dashboard.Dashboard) -> None:
        self.board = board
        self.next_id = 1

    def row(self, title: str) -> Self:
        self.board.with_row(dashboard.Row(title).id(self.next_id))
        self.next_id += 1
        return self

    def add(self, panel: Any) -> Self:
        self.board.with_panel(panel.id(self.next_id))
        self.next_id += 1
        return self


# -- building overview panels ---------------------------------------------------------------------

FLAT_ALIAS: Final = "$tag_flat"


def temperature_panel() -> timeseries.Panel:
    return series(
        "Temperatur pr. lejlighed / temperature per flat",
        "Middel af alle rum i lejligheden. Mean over the flat's rooms.",
        "celsius",
        Target("A", aggregate("climate", "temperature_c"), FLAT_ALIAS),
    ).thresholds(thresholds((None, "blue"), (18.0, "green"), (26.0, "orange")))


def humidity_panel() -> timeseries.Panel:
    return series(
        "Relativ fugtighed / relative humidity",
        "Middel pr. lejlighed. Mean per flat.",
        "humidity",
        Target("A", aggregate("climate", "humidity_pct"), FLAT_ALIAS),
    ).thresholds(thresholds((None, "green"), (60.0, "orange"), (70.0, "red")))


def co2_panel() -> timeseries.Panel:
    return series(
        "CO2 pr. lejlighed / per flat (max)",
        "Værste rum. Worst room. EN 16798-1: kat. III over 1220 ppm, kat. IV over 1770 ppm.",
        "ppm",
        Target("A", aggregate("climate", "co2_ppm", "max"), FLAT_ALIAS),
    ).thresholds(thresholds((None, "green"), (1220.0, "orange"), (1770.0, "red")))


def mould_index_panel() -> timeseries.Panel:
    return series(
        "Skimmelindeks / mould index (VTT)",
        "Pr. rum: 1 = begyndende mikroskopisk vækst, 3 = synlig. "
        "Per room: 1 = microscopic growth, 3 = visible.",
        "none",
        Target(
            "A",
            aggregate("mould", "mould_index", "max", by=("flat", "room")),
            "$tag_flat $tag_room",
        ),
        span=12,
    ).thresholds(thresholds((None, "green"), (1.0, "orange"), (3.0, "red")))


def surface_rh_panel() -> timeseries.Panel:
    return series(
        "Fugt ved kold væg / surface RH",
        "Beregnet ved den koldeste kuldebro (fRsi). At the worst thermal bridge; alert ≥ 80 % 6 h.",
        "humidity",
        Target(
            "A",
            aggregate("mould", "surface_rh_pct", "max", by=("flat", "room")),
            "$tag_flat $tag_room",
        ),
        span=12,
    ).thresholds(thresholds((None, "green"), (80.0, "orange"), (90.0, "red")))


def comfort_panel() -> table.Panel:
    fields = ["light", "share_level_1", "share_level_2", "share_level_3", "share_level_4"]
    return (
        table.Panel()
        .title("Komfort denne måned / comfort this month")
        .description("Trafiklys og andel af tiden i niveau 1-4. Traffic light, share per level.")
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .with_target(Target("A", latest("comfort_index", fields), fmt="table"))
    )


def heat_share_panel() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Varmeandel / heating share")
        .description("Foreløbig andel af bygningens varmeregning. Provisional share of the bill.")
        .datasource(DATASOURCE)
        .unit("percent")
        .span(12)
        .height(8)
        .with_target(Target("A", latest("heat_share", ["share_pct"]), FLAT_ALIAS))
    )


def heat_estimate_panel() -> table.Panel:
    return (
        table.Panel()
        .title("Anslået varmeudgift / estimated heating cost (DKK)")
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .with_target(Target("A", latest("heat_share", ["share_pct", "estimated_dkk"]), fmt="table"))
    )


def alert_level_panel() -> timeseries.Panel:
    return series(
        "Alarmniveau / alert level",
        "0 = afsluttet, 1 = advarsel, 2 = alarm. 0 cleared, 1 warn, 2 alarm.",
        "none",
        Target(
            "A", aggregate("alerts", "level", "max", by=("flat", "kind")), "$tag_flat $tag_kind"
        ),
        span=24,
    ).thresholds(thresholds((None, "green"), (1.0, "orange"), (2.0, "red")))


def alerts_table_panel() -> table.Panel:
    fields = ["flat", "kind", "state", "severity", "value", "advice_da"]
    return (
        table.Panel()
        .title("Alarmer / alerts")
        .description("Nyeste først. Newest first: one row per change of an alert.")
        .datasource(DATASOURCE)
        .span(24)
        .height(10)
        .with_target(Target("A", raw("alerts", fields), fmt="table"))
    )


# -- ventilation windows and the weekly diagnosis (issue 11) ---------------------------------------


def window_position_panel() -> timeseries.Panel:
    return series(
        "Vinduesåbning / window opening",
        "Hvad vinduesstyringen melder. What the window controllers report (0 closed, 100 open).",
        "percent",
        Target(
            "A",
            aggregate("window", "reported_pct", "max", by=("flat", "window")),
            "$tag_flat $tag_window",
        ),
        span=12,
    )


def window_decisions_panel() -> table.Panel:
    fields = ["flat", "window", "kind", "rule", "tier", "text_da", "outcome", "reason"]
    return (
        table.Panel()
        .title("Vinduernes beslutninger / window decisions")
        .description(
            "Hvorfor et vindue er åbent eller lukket (regel og prioritet), kommandoers og "
            "sætpunkters udfald. Why a window is open or closed; outcomes of commands and set "
            "points."
        )
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .with_target(Target("A", raw("window_event", fields), fmt="table"))
    )


def diagnosis_panel() -> table.Panel:
    fields = [
        "causes",
        "air_change_per_h",
        "moisture_g_per_h",
        "airing_events",
        "surface_rh_hours_above_80",
        "frsi",
        "advice_da",
    ]
    return (
        table.Panel()
        .title("Ugens diagnose / the week's diagnosis")
        .description(
            "Klimaskærm (fRsi), ventilation/installationer eller vaner – med nøgletal. Envelope, "
            "ventilation/installations or habits, with the key figures."
        )
        .datasource(DATASOURCE)
        .span(24)
        .height(8)
        .with_target(Target("A", latest("diagnosis", fields), fmt="table"))
    )


# -- gateway health panels -------------------------------------------------------------------------


def readings_rate_panel() -> timeseries.Panel:
    return series(
        "Målinger pr. minut / readings per minute",
        "Pr. lejlighed; hver lejlighed hører til én gateway (registry). Readings carry no gateway "
        "tag: per flat, each flat being served by one gateway. Temperature and CO2 readings are "
        "counted apart (a Senseair S8 reports CO2 only).",
        "short",
        Target(
            "A",
            aggregate("climate", "temperature_c", "count", by=("building", "flat"), interval="1m"),
            "$tag_flat temperatur",
        ),
        Target(
            "B",
            aggregate("climate", "co2_ppm", "count", by=("building", "flat"), interval="1m"),
            "$tag_flat CO2",
        ),
        span=24,
    )


def battery_panel() -> timeseries.Panel:
    return series(
        "Batteri pr. sensor / battery per sensor",
        "BLE-sensorer. Skift under ca. 2,4 V. BLE sensors; replace below about 2.4 V.",
        "mvolt",
        Target("A", aggregate("climate", "battery_mv", "min", by=("sensor",)), "$tag_sensor"),
        span=12,
    ).thresholds(thresholds((None, "red"), (2400.0, "orange"), (2600.0, "green")))


def signal_panel() -> timeseries.Panel:
    return series(
        "Signalstyrke / BLE signal (RSSI)",
        "Under -90 dBm mistes adverts. Below -90 dBm adverts get lost.",
        "dBm",
        Target("A", aggregate("climate", "rssi_dbm", "mean", by=("sensor",)), "$tag_sensor"),
        span=12,
    ).thresholds(thresholds((None, "red"), (-90.0, "orange"), (-80.0, "green")))


def device_alerts_panel() -> table.Panel:
    fields = ["flat", "kind", "state", "severity", "value"]
    query = raw("alerts", fields).replace(
        " AND $timeFilter", ' AND "kind" =~ /^(sensor-silent|actuator-fault)$/ AND $timeFilter'
    )
    return (
        table.Panel()
        .title("Tavse sensorer og aktuatorfejl / silent sensors, actuator faults")
        .datasource(DATASOURCE)
        .span(24)
        .height(8)
        .with_target(Target("A", query, fmt="table"))
    )


GATEWAY_FILTER: Final = ('"building" =~ /^$building$/', '"gateway" =~ /^$gateway$/')


def gateway_rate_panel() -> timeseries.Panel:
    return series(
        "Målinger pr. minut pr. gateway / readings per minute per gateway",
        "Falder en gateway til 0, er den offline eller dens sensorer tavse. A gateway dropping "
        "to 0 is offline or its sensors are silent.",
        "short",
        Target(
            "A",
            aggregate(
                "climate",
                "temperature_c",
                "count",
                by=("gateway",),
                interval="1m",
                filters=GATEWAY_FILTER,
            ),
            "$tag_gateway",
        ),
        span=24,
    )


def gateway_sensors_panel() -> table.Panel:
    return (
        table.Panel()
        .title("Sensorer pr. gateway, senest hørt / sensors per gateway, last heard")
        .description("Tiden er den seneste måling. The time is the latest reading.")
        .datasource(DATASOURCE)
        .span(24)
        .height(10)
        .with_target(
            Target(
                "A",
                latest(
                    "climate",
                    ["temperature_c", "battery_mv"],
                    by=("gateway", "flat", "sensor"),
                    filters=GATEWAY_FILTER,
                ),
                fmt="table",
            )
        )
    )


# -- estate overview panels ------------------------------------------------------------------------

BUILDING_ALIAS: Final = "$tag_building"


def estate_temperature_panel() -> timeseries.Panel:
    return series(
        "Temperatur pr. bygning / temperature per building",
        "Middel af alle lejligheder. Mean over the building's flats.",
        "celsius",
        Target(
            "A",
            aggregate("climate", "temperature_c", by=("building",), filters=BUILDING_ONLY),
            BUILDING_ALIAS,
        ),
    )


def estate_co2_panel() -> timeseries.Panel:
    return series(
        "CO2 pr. bygning (max) / per building",
        "Værste rum i bygningen. Worst room in the building.",
        "ppm",
        Target(
            "A",
            aggregate("climate", "co2_ppm", "max", by=("building",), filters=BUILDING_ONLY),
            BUILDING_ALIAS,
        ),
    ).thresholds(thresholds((None, "green"), (1220.0, "orange"), (1770.0, "red")))


def estate_mould_panel() -> timeseries.Panel:
    return series(
        "Skimmelindeks pr. bygning (max) / mould index per building",
        "Værste rum. Worst room.",
        "none",
        Target(
            "A",
            aggregate("mould", "mould_index", "max", by=("building",), filters=BUILDING_ONLY),
            BUILDING_ALIAS,
        ),
    ).thresholds(thresholds((None, "green"), (1.0, "orange"), (3.0, "red")))


def estate_alerts_panel() -> table.Panel:
    return (
        table.Panel()
        .title("Alarmer pr. bygning / alerts per building")
        .description("Seneste niveau pr. lejlighed og slags. Latest level per flat and kind.")
        .datasource(DATASOURCE)
        .span(12)
        .height(8)
        .with_target(
            Target(
                "A",
                latest("alerts", ["level"], by=("building", "flat", "kind"), filters=BUILDING_ONLY),
                fmt="table",
            )
        )
    )


def estate_rate_panel() -> timeseries.Panel:
    return series(
        "Målinger pr. minut pr. bygning / readings per minute per building",
        "Dataflow fra alle gateways. Data flow from all gateways.",
        "short",
        Target(
            "A",
            aggregate(
                "climate",
                "temperature_c",
                "count",
                by=("building",),
                interval="1m",
                filters=BUILDING_ONLY,
            ),
            BUILDING_ALIAS,
        ),
        span=12,
    )


# -- flat detail panels ----------------------------------------------------------------------------

ROOM_ALIAS: Final = "$tag_room"


def room_panel(title: str, field: str, unit: str, fn: str = "mean") -> timeseries.Panel:
    return series(
        f"{title} pr. rum / per room",
        "Lejligheden valgt øverst. The flat chosen above.",
        unit,
        Target("A", aggregate("climate", field, fn, by=("room",)), ROOM_ALIAS),
    )


def flat_mould_panel() -> timeseries.Panel:
    return series(
        "Skimmelindeks og fugt ved kold væg / mould index, surface RH",
        "Pr. rum. Per room.",
        "none",
        Target("A", aggregate("mould", "mould_index", "max", by=("room",)), "$tag_room indeks"),
        Target("B", aggregate("mould", "surface_rh_pct", "max", by=("room",)), "$tag_room RH %"),
        span=12,
    )


# -- heating account panels ------------------------------------------------------------------------


def heat_share_trend_panel() -> timeseries.Panel:
    return series(
        "Varmeandel over tid / heating share over time",
        "Foreløbig andel pr. lejlighed (jobs, hver time). Provisional share per flat (hourly).",
        "percent",
        Target("A", aggregate("heat_share", "share_pct", "last"), FLAT_ALIAS),
        span=12,
    )


def heat_input_panel() -> timeseries.Panel:
    return series(
        "Døgnmiddeltemperatur / daily mean temperature",
        "Det varmeregnskabet regner på. What the heating settlement computes from.",
        "celsius",
        Target("A", aggregate("climate", "temperature_c", interval="1d"), FLAT_ALIAS),
        span=12,
    )


# -- ingest health panels --------------------------------------------------------------------------

INGEST_ALIAS: Final = "$tag_ingest"


def ingest_panel(title: str, description: str, field: str, unit: str) -> timeseries.Panel:
    return series(
        title,
        description,
        unit,
        Target(
            "A",
            aggregate("ingest", field, "last", by=("ingest",), filters=NO_FILTER),
            INGEST_ALIAS,
        ),
        span=12,
    )


# -- dashboards ------------------------------------------------------------------------------------


def _gateway_variable() -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable("gateway")
        .label("Gateway")
        .datasource(DATASOURCE)
        .query(tag_values("climate", "gateway", '"building" =~ /^$building$/'))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def _variables() -> list[dashboard.QueryVariable]:
    building = (
        dashboard.QueryVariable("building")
        .label("Bygning / building")
        .datasource(DATASOURCE)
        .query(tag_values("climate", "building"))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    flat = (
        dashboard.QueryVariable("flat")
        .label("Lejlighed / flat")
        .datasource(DATASOURCE)
        .query(tag_values("climate", "flat", '"building" =~ /^$building$/'))
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    return [building, flat]


def _board(
    uid: str,
    title: str,
    description: str,
    variables: Sequence[dashboard.QueryVariable] | None = None,
) -> dashboard.Dashboard:
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone("Europe/Copenhagen")
        .time("now-7d", "now")
        .refresh("5m")
        .readonly()
    )
    for variable in _variables() if variables is None else variables:
        board = board.with_variable(variable)
    return board


def building_overview() -> dashboard.Dashboard:
    board = _board(
        "indeklima-building",
        "Indeklima – bygningsoversigt / building overview",
        "Indeklima, skimmelrisiko, komfort, varmeandele og alarmer pr. lejlighed.",
    )
    (
        _Layout(board)
        .row("Indeklima / indoor climate")
        .add(temperature_panel())
        .add(humidity_panel())
        .add(co2_panel())
        .row("Skimmel / mould")
        .add(mould_index_panel())
        .add(surface_rh_panel())
        .row("Komfort og varme / comfort and heating")
        .add(comfort_panel())
        .add(heat_share_panel())
        .add(heat_estimate_panel())
        .row("Alarmer / alerts")
        .add(alert_level_panel())
        .add(alerts_table_panel())
        .row("Ventilation / ventilation")
        .add(window_position_panel())
        .add(window_decisions_panel())
        .add(diagnosis_panel())
    )
    return board


def gateway_health() -> dashboard.Dashboard:
    board = _board(
        "indeklima-gateways",
        "Indeklima – gateways og sensorer / gateway health",
        "Målinger pr. minut pr. gateway, batterier, signal og tavse sensorer.",
        [*_variables(), _gateway_variable()],
    )
    (
        _Layout(board)
        .row("Gateways")
        .add(gateway_rate_panel())
        .add(gateway_sensors_panel())
        .row("Dataflow")
        .add(readings_rate_panel())
        .row("Sensorer / sensors")
        .add(battery_panel())
        .add(signal_panel())
        .add(device_alerts_panel())
    )
    return board


def estate_overview() -> dashboard.Dashboard:
    board = _board(
        "indeklima-estate",
        "Indeklima – boligafdelingen / estate overview",
        "Alle bygninger: indeklima, skimmel, alarmer og dataflow.",
        [_variables()[0].multi(True).include_all(True).all_value(".*")],
    )
    (
        _Layout(board)
        .row("Bygninger / buildings")
        .add(estate_temperature_panel())
        .add(estate_co2_panel())
        .add(estate_mould_panel())
        .add(estate_alerts_panel())
        .add(estate_rate_panel())
    )
    return board


def flat_detail() -> dashboard.Dashboard:
    building, flat = _variables()
    board = _board(
        "indeklima-flat",
        "Indeklima – lejlighed / flat detail",
        "Én lejlighed rum for rum: indeklima, skimmel, komfort, varme og alarmer.",
        [building, flat.multi(False).include_all(False)],
    )
    (
        _Layout(board)
        .row("Rum / rooms")
        .add(room_panel("Temperatur / temperature", "temperature_c", "celsius"))
        .add(room_panel("Fugtighed / humidity", "humidity_pct", "humidity"))
        .add(room_panel("CO2", "co2_ppm", "ppm", "max"))
        .add(flat_mould_panel())
        .add(comfort_panel())
        .row("Varme og alarmer / heating and alerts")
        .add(heat_estimate_panel())
        .add(alerts_table_panel())
    )
    return board


def heating_account() -> dashboard.Dashboard:
    board = _board(
        "indeklima-heating",
        "Indeklima – varmeregnskab / heating account",
        "Foreløbige varmeandele og det, de regnes af. Provisional shares and their inputs.",
    )
    (
        _Layout(board)
        .row("Varmeandele / heating shares")
        .add(heat_share_trend_panel())
        .add(heat_share_panel())
        .add(heat_estimate_panel())
        .add(heat_input_panel())
    )
    return board


def ingest_health() -> dashboard.Dashboard:
    board = _board(
        "indeklima-ingest",
        "Indeklima – modtagelse / ingest health",
        "Hver ingest-proces skriver sin sundhed hvert minut (--report-every).",
        [],
    )
    (
        _Layout(board)
        .row("Ingest")
        .add(
            ingest_panel(
                "Målinger pr. sekund / readings per second",
                "Gemt i lageret. Stored.",
                "readings_per_s",
                "short",
            )
        )
        .add(
            ingest_panel(
                "Forsinkelse / lag",
                "Alder af nyeste måling, da den blev gemt. Age of the newest reading when stored.",
                "lag_s",
                "s",
            )
        )
        .add(
            ingest_panel(
                "Dødbreve / dead letters",
                "I alt siden start; se indeklima deadletters list. Total since start.",
                "dead_letters",
                "short",
            )
        )
        .add(
            ingest_panel(
                "Droppede dødbreve / dead letters dropped by the bound",
                "Ældste droppet ved grænsen. Oldest dropped at the bound.",
                "dead_letters_dropped",
                "short",
            )
        )
        .add(
            ingest_panel(
                "Lager-genforsøg / store retries",
                "Stiger når InfluxDB er nede. Rises while InfluxDB is down.",
                "store_retries",
                "short",
            )
        )
    )
    return board


DASHBOARDS: Final[dict[str, Callable[[], dashboard.Dashboard]]] = {
    "indeklima-estate.json": estate_overview,
    "indeklima-building.json": building_overview,
    "indeklima-flat.json": flat_detail,
    "indeklima-heating.json": heating_account,
    "indeklima-gateways.json": gateway_health,
    "indeklima-ingest.json": ingest_health,
}


def render(board: dashboard.Dashboard) -> str:
    """Deterministic JSON: sorted keys, two-space indent, newline at the end."""
    return json.dumps(board.build(), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def build_all() -> dict[str, str]:
    return {name: render(make()) for name, make in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if generated/ is stale")
    parser.add_argument("--out", type=Path, default=GENERATED, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, text in build_all().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        sys.stdout.write(f"{path}\n")
    if stale:
        sys.stdout.write(f"stale: {', '.join(stale)}; run: python dashboards/build.py\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
