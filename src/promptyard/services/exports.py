"""Exports of the request log as CSV or JSONL text, for the API, the UI and the CLI alike."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy.orm import Session

from promptyard.domain import query
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput
from promptyard.services import request_reads

FORMATS = ("csv", "jsonl")
COLUMNS = ["id", "start_time", "prompt", "version", "label", "provider", "model", "status", "latency_ms",
           "input_tokens", "output_tokens", "cost", "tags", "metadata", "scores", "input_text", "output_text",
           "error", "trace_id", "span_id"]
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


# Excel reads a CSV file without a byte order mark in the system's code page (Shift_JIS on a Japanese
# Windows): UTF-8 text becomes mojibake. With U+FEFF first it reads UTF-8; other readers skip it.
BOM = "\ufeff"


def export(session: Session, p: Principal, node: query.Node | None, fmt: str, *, bom: bool = False
           ) -> Iterator[str]:
    """Every matching request, newest first, as text chunks (keyset batches: constant memory):
    JSONL with everything (input, output, variables, routing), CSV with the list columns and the
    input and output as plain text (`bom`: UTF-8 with a byte order mark, for Excel). Format and
    rights are checked when called, before the first chunk is asked for."""
    if fmt not in FORMATS:
        raise InvalidInput("errors.system.format_formats", formats=', '.join(FORMATS))
    items = request_reads.iterate(session, p, node)
    return _jsonl(items) if fmt == "jsonl" else _csv(items, BOM if bom else "")


def _jsonl(items: Iterator[dict]) -> Iterator[str]:
    for item in items:
        yield json.dumps(_plain(item), ensure_ascii=False) + "\n"


def _csv(items: Iterator[dict], start: str) -> Iterator[str]:
    buf = io.StringIO()
    buf.write(start)
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for item in items:
        writer.writerow([safe_cell(_plain(item.get(col))) for col in COLUMNS])
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


# What spreadsheets (Excel, LibreOffice, Sheets) may run as a formula or DDE call when a cell starts
# with it, after any leading whitespace (OWASP "CSV injection"). Japanese input methods type the
# full-width forms (＝＋－＠), which Excel converts, so they are compared after NFKC folding.
FORMULA_STARTS = frozenset("=+-@|%\u2212")
RAW_STARTS = ("\t", "\r", "\n")
_INVISIBLE = "\ufeff\u200b\u200c\u200d\u2060"


def safe_cell(value: Any) -> str:
    """A CSV cell that no spreadsheet runs: text that could start a formula gets a leading "'"."""
    if isinstance(value, (int, float)):  # numbers (also negative ones) are never formulas
        return str(value)
    text = "" if value is None else (json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list))
                                     else str(value))
    first = text.lstrip().lstrip(_INVISIBLE).lstrip()[:1]
    if text.startswith(RAW_STARTS) or (first and unicodedata.normalize("NFKC", first) in FORMULA_STARTS):
        return "'" + text
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
