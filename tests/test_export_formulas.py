"""CSV export neutralises every cell a spreadsheet could run as a formula (OWASP CSV injection),
through the real export on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support import ingest, log

DANGEROUS = [" =1+1", "\t=1+1", "\r=1+1", "\n=1+1", "\u3000=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)",
             "  @SUM(A1)", "|cmd", "%0A=1", "\ufeff=1", "=cmd|' /C calc'!A0", "\t", "-2+3"]
HARMLESS = ["1日2回です。", "plain text", " leading space only", "a=b"]


@pytest.mark.parametrize("field", ["model", "input", "output"])
def test_csv_export_neutralises_formula_starts(api, field):
    values = DANGEROUS + HARMLESS
    logs = []
    for v in values:
        extra = {"output": {"output": {"text": v}}, "input": {"input": {"messages": [{"role": "user", "content": v}]}}
                 }.get(field, {field: v})
        logs.append(log(**extra))
    ingest(api, *logs)
    text = api.get("/api/v1/requests/export", params={"format": "csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    column = {"output": "output_text", "input": "input_text"}.get(field, field)
    cells = {r[column] for r in rows}
    for v in DANGEROUS:
        assert "'" + v in cells, (v, cells)
    for v in HARMLESS:
        assert v in cells
    assert {r["latency_ms"] for r in rows} == {"1500.0"} or {r["latency_ms"] for r in rows} == {"1500"}, rows[0]
