"""Grafana dashboards for technicians, as code: ``python dashboards/build.py [--check]``.

Built with grafana-foundation-sdk (https://github.com/grafana/grafana-foundation-sdk): one function
per panel, shared InfluxQL helpers, deterministic JSON (sorted keys, panel ids in build order) in
``dashboards/generated/``. Never edit the JSON by hand: tests/test_dashboards.py fails when it
differs from a fresh build. ``--check`` exits 1 when the generated files are stale.

Data (InfluxDB 1.x, database ``indeklima``, InfluxQL; see cloud/ for the writers):

* ``climate``: tags building, flat, room, sensor; fields temperature_c, humidity_pct, co2_ppm,
  battery_mv, rssi_dbm, ... (cloud/store/base.py)
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


def where(*conditions: str, time_filter: bool = True) -> str:
    parts = [*FILTER, *conditions]
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
) -> str:
    """``SELECT fn(field) FROM measurement WHERE … GROUP BY time(interval), tags fill(null)``."""
    group = ", ".join([f"time({interval})", *(ident(tag) for tag in by)])
    return (
        f"SELECT {fn}({ident(field)}) AS {ident(field)} FROM {ident(measurement)}"
        f"{where(*conditions)} GROUP BY {group} fill(null)"
    )


def latest(
    measurement: str,
    fields: Sequence[str],
    *,
    by: Sequence[str] = ("flat",),
    conditions: Sequence[str] = (),
) -> str:
    """The last value of each field per tag set in the time range (for tables)."""
    selected = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in fields)
    group = ", ".join(ident(tag) for tag in by)
    return f"SELECT {selected} FROM {ident(measurement)}{where(*conditions)} GROUP BY {group}"


def raw(measurement: str, fields: Sequence[str], *, limit: int = 200) -> str:
    """Rows as stored, newest first (for event tables such as alerts)."""
    selected = ", ".join(ident(f) for f in fields)
    return f"SELECT {selected} FROM {ident(measurement)}{where()} ORDER BY time DESC LIMIT {limit}"


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


# -- dashboards ------------------------------------------------------------------------------------


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


def _board(uid: str, title: str, description: str) -> dashboard.Dashboard:
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
    for variable in _variables():
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
        "Målinger pr. minut, batterier, signal og tavse sensorer.",
    )
    (
        _Layout(board)
        .row("Dataflow")
        .add(readings_rate_panel())
        .row("Sensorer / sensors")
        .add(battery_panel())
        .add(signal_panel())
        .add(device_alerts_panel())
    )
    return board


DASHBOARDS: Final[dict[str, Callable[[], dashboard.Dashboard]]] = {
    "indeklima-building.json": building_overview,
    "indeklima-gateways.json": gateway_health,
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
