"""Issue 13: exports are byte-for-byte reproducible whatever the clock says.

The old test built both files within the same second, so it passed even without the fix. Here
the clock is moved (``time-machine`` moves ``time.time`` and ``datetime.now`` for every library,
openpyxl's and fpdf2's dates and the zip entry times included) between the two builds; with the
fixed metadata removed (``export._rezip`` / ``set_creation_date``) these tests fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import time_machine

from cloud.settlement.engine import settle
from cloud.settlement.export import to_csv_bytes, to_xlsx_bytes
from cloud.settlement.model import RunRef, SettlementResult
from cloud.settlement.pdf import statement_pdf
from tests.test_settlement_outputs import make_inputs

CLOCKS = (datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC), datetime(2031, 6, 7, 8, 9, 10, tzinfo=UTC))


@pytest.fixture(scope="module")
def result() -> SettlementResult:
    settled = settle(make_inputs())
    return replace(settled, run=RunRef(7, supersedes=5, reason="forkert areal for 0101"))


EXPORTS: dict[str, Callable[[SettlementResult], bytes]] = {
    "csv": to_csv_bytes,
    "xlsx": lambda r: to_xlsx_bytes([r]),
    "pdf": lambda r: statement_pdf(r, r.statements[0]),
}


@pytest.mark.parametrize("name", list(EXPORTS))
def test_exports_have_the_same_bytes_under_different_clocks(
    result: SettlementResult, name: str
) -> None:
    built = []
    for clock in CLOCKS:
        with time_machine.travel(clock, tick=False):
            built.append(EXPORTS[name](result))
    assert built[0] == built[1], f"{name} depends on the clock"
    assert b"2030" not in built[0] and b"2031" not in built[0]
