"""Issue 13: ids are text end to end — CSV readers, registry, store tags, file names, PDFs."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pydantic
import pytest

from cloud.registry import Registry
from cloud.settlement.names import statement_filename
from cloud.settlement.periods import month_bounds
from cloud.settlement.store_io import WEATHER, settle_from_store
from cloud.store.base import CLIMATE, Point
from cloud.store.sqlite import SqliteStore
from tests.settle_files import pdf_text, read_out, settle, write_files

IDS = [
    pytest.param("0101", id="leading-zero"),
    pytest.param("1,10", id="comma"),
    pytest.param("Østergade 1/2 th", id="slash-space-danish"),
    pytest.param("../../evil", id="dot-dot"),
    pytest.param("Łukasz Żółć 3.", id="outside-latin-1"),
    pytest.param("A;B", id="semicolon"),
    pytest.param("1e3", id="looks-like-a-float"),
]


@pytest.mark.parametrize("flat_id", IDS)
def test_id_shapes_survive_the_cli_csv_and_pdf(tmp_path: Path, flat_id: str) -> None:
    work = tmp_path / "work"
    files = write_files(work, 2026, 1, {flat_id: 21.0, "0102": 23.0})
    out, pdfs = work / "out.csv", work / "pdf"
    done = settle(files, out, "2026-01", "--pdf-dir", str(pdfs))
    assert done.returncode == 0, done.stderr
    assert sorted(r["flat_id"] for r in read_out(out)) == sorted([flat_id, "0102"])
    assert all(r["coverage_pct"] == "100,0" for r in read_out(out))  # climate matched the id
    names = sorted(p.name for p in pdfs.iterdir())
    assert names == sorted(statement_filename("B", f) for f in (flat_id, "0102"))
    assert all(re.fullmatch(r"varmeregnskab_[A-Za-z0-9_-]+\.pdf", n) for n in names)
    outside = {p for p in tmp_path.rglob("*")} - {p for p in work.rglob("*")} - {work}
    assert outside == set()  # nothing written beside the work folder
    text = pdf_text(pdfs / statement_filename("B", flat_id))
    assert flat_id in text, text[:400]


def test_file_names_are_a_slug_plus_a_hash() -> None:
    a, b = statement_filename("B1", "1/2"), statement_filename("B1", "1-2")
    assert a != b and "/" not in a
    assert statement_filename("B1", "Østergade 1/2 th").startswith(
        "varmeregnskab_B1-"
    ) and "Oestergade-1-2-th-" in statement_filename("B1", "Østergade 1/2 th")
    assert ".." not in statement_filename("../..", "../../x")


REGISTRY = """
[[buildings]]
id = "B1"

[[buildings.flats]]
id = "0101"
area_m2 = 60.0

[[buildings.flats]]
id = "0102"
area_m2 = 60.0
"""


def test_ids_stay_text_through_the_registry_and_store_tags(tmp_path: Path) -> None:
    registry = Registry.model_validate(tomllib.loads(REGISTRY))
    start, end = month_bounds(2026, 1)
    with SqliteStore(tmp_path / "store.db") as store:
        points = []
        for h in range(int((end - start) / timedelta(hours=1))):
            ns = int((start + timedelta(hours=h)).timestamp()) * 10**9
            for flat, t in (("0101", 21.0), ("0102", 23.0)):
                tags = {"building": "B1", "flat": flat, "room": "living", "sensor": flat}
                points.append(Point(CLIMATE, tags, {"temperature_c": t, "humidity_pct": 45.0}, ns))
            points.append(Point(WEATHER, {"building": "B1"}, {"temperature_c": 2.0}, ns))
        store.write(points)
        result = settle_from_store(store, registry, "B1", start, end, "1000,00")
    assert [s.flat_id for s in result.statements] == ["0101", "0102"]
    assert [s.coverage_pct for s in result.statements] == [100.0, 100.0]
    assert "no_data" not in result.statements[0].flags


def test_the_registry_refuses_a_flat_id_written_as_a_number() -> None:
    with pytest.raises(pydantic.ValidationError, match="valid string"):
        Registry.model_validate(tomllib.loads(REGISTRY.replace('id = "0101"', "id = 101")))
