"""Issue 13 through the finance API: Danish amounts, local months (DST both ways), no-CO2
buildings, empty periods, corrections and the statement deadline in the responses."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from cloud.settlement.periods import month_bounds
from cloud.settlement.store_io import WEATHER
from cloud.store.base import CLIMATE, Point
from tests.settle_files import pdf_text
from tests.test_api import INDOOR_C, RUNS, SETTLE, Api, api, detail

__all__ = ["api"]  # the module-scoped API server fixture of tests/test_api.py

PREFIX = RUNS.split("/buildings/")[0]


def runs_url(building: str) -> str:
    return f"{PREFIX}/buildings/{building}/settlements"


def fill_month(api: Api, building: str, year: int, month: int, *, co2: bool = True) -> None:
    start, end = month_bounds(year, month)
    points = []
    for h in range(int((end - start) / timedelta(hours=1))):
        ns = int((start + timedelta(hours=h)).timestamp()) * 10**9
        for flat, temp in INDOOR_C.items():
            if flat.startswith(building):
                tags = {"building": building, "flat": flat, "room": "living", "sensor": flat}
                fields = {"temperature_c": temp, "humidity_pct": 45.0}
                if co2:
                    fields["co2_ppm"] = 700.0
                points.append(Point(CLIMATE, tags, fields, ns))
        points.append(Point(WEATHER, {"building": building}, {"temperature_c": 1.0}, ns))
    api.store.write(points)


@pytest.mark.parametrize(
    "cost", ["12345.67", "12.345,67", "12 345,67", "12345,67", 12345.67], ids=str
)
def test_total_cost_in_danish_forms(api: Api, cost: str | float) -> None:
    response = api.fin("POST", RUNS, json={**SETTLE, "total_cost_dkk": cost})
    assert response.status_code == 201, response.text
    run = response.json()
    assert Decimal(run["total_dkk"]) == Decimal("12345.67")
    assert api.fin("DELETE", f"{RUNS}/{run['run_id']}").status_code == 204


@pytest.mark.parametrize("cost", ["12.345", "1.000"])
def test_ambiguous_total_cost_is_refused_naming_both_readings(api: Api, cost: str) -> None:
    response = api.fin("POST", RUNS, json={**SETTLE, "total_cost_dkk": cost})
    assert response.status_code == 422
    assert "tvetydigt" in response.text and "ambiguous" in response.text


@pytest.mark.parametrize(
    ("month", "last_day", "hours"), [(3, "2026-03-31", 743), (10, "2026-10-31", 745)]
)
def test_dst_months_settle_with_local_dates(
    api: Api, month: int, last_day: str, hours: int
) -> None:
    fill_month(api, "B1", 2026, month)
    body = {**SETTLE, "period_start": f"2026-{month:02d}", "period_end": f"2026-{month:02d}"}
    response = api.fin("POST", RUNS, json=body)
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["period"], run["period_first_day"], run["period_last_day"]) == (
        f"2026-{month:02d}",
        f"2026-{month:02d}-01",
        last_day,
    )
    assert [f["coverage_pct"] for f in run["flats"]] == [100.0, 100.0, 100.0]
    pdf = api.fin("GET", f"{RUNS}/{run['run_id']}/statements/B1-01.pdf")
    assert pdf.status_code == 200
    assert f"2026-{month:02d}-01 til {last_day}" in pdf_text(pdf.content)
    assert f"_2026-{month:02d}_" in pdf.headers["content-disposition"]
    assert api.fin("DELETE", f"{RUNS}/{run['run_id']}").status_code == 204


def test_a_building_without_co2_is_settled_on_temperature_and_humidity(api: Api) -> None:
    fill_month(api, "B2", 2026, 4, co2=False)
    body = {**SETTLE, "period_start": "2026-04", "period_end": "2026-04"}
    response = api.fin("POST", runs_url("B2"), json=body)
    assert response.status_code == 201, response.text
    run = response.json()
    assert all("no_data" not in f["flags"] for f in run["flats"])
    assert "airing_not_available=no_co2" in run["notes"]
    pdf = api.fin("GET", f"{runs_url('B2')}/{run['run_id']}/statements/B2-01.pdf")
    text = " ".join(pdf_text(pdf.content).split())
    assert "CO2 måles ikke" in text and "Ingen måledata" not in text
    assert api.fin("DELETE", f"{runs_url('B2')}/{run['run_id']}").status_code == 204


def test_a_month_without_data_is_refused_naming_building_and_period(api: Api) -> None:
    body = {**SETTLE, "period_start": "2026-06", "period_end": "2026-06"}
    response = api.fin("POST", RUNS, json=body)
    assert response.status_code == 409
    assert "B1" in detail(response) and "2026-06 (2026-06-01 til 2026-06-30)" in detail(response)


def test_corrections_and_deadlines(api: Api) -> None:
    url = runs_url("B2")
    first = api.fin("POST", url, json=SETTLE).json()
    assert first["statement_deadline"] == "2026-05-31"
    assert first["deadline_state"] == "overdue" and "2026-05-31" in first["deadline_warning"]
    pending = api.fin("GET", f"{url}/deadlines")
    assert pending.status_code == 200, pending.text
    assert [(d["run_id"], d["period"], d["statement_deadline"]) for d in pending.json()] == [
        (first["run_id"], "2026-01", "2026-05-31")
    ]
    path = f"{url}/{first['run_id']}"
    assert api.fin("POST", f"{path}/check").status_code == 200
    assert api.call("POST", f"{path}/approve", "fin2").status_code == 200
    assert api.fin("GET", f"{url}/deadlines").json() == []

    again = api.fin("POST", url, json=SETTLE)
    assert again.status_code == 409 and "korrektion" in detail(again)
    wrong = api.fin("POST", url, json={**SETTLE, "corrects_run_id": 999999, "reason": "x"})
    assert wrong.status_code == 409
    body = {**SETTLE, "corrects_run_id": first["run_id"], "reason": "forkert areal B2-01"}
    created = api.fin("POST", url, json=body)
    assert created.status_code == 201, created.text
    fix = created.json()
    assert (fix["supersedes"], fix["reason"]) == (first["run_id"], "forkert areal B2-01")
    csv_text = api.fin("GET", f"{url}/{fix['run_id']}/export.csv").content.decode("utf-8-sig")
    assert f";{fix['run_id']};{first['run_id']}\r\n" in csv_text
    pdf = api.fin("GET", f"{url}/{fix['run_id']}/statements/B2-01.pdf").content
    words = " ".join(pdf_text(pdf).split())
    assert "korrektion" in words and "forkert areal B2-01" in words
    fix_path = f"{url}/{fix['run_id']}"
    assert api.fin("POST", f"{fix_path}/check").status_code == 200
    approved = api.call("POST", f"{fix_path}/approve", "fin2")
    assert approved.status_code == 200, approved.text
    assert api.fin("GET", path).json()["state"] == "approved"  # kept, superseded
