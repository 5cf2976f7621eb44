"""Datasets as files: uploading CSV or JSONL into a new version, exporting a version as CSV or JSONL.

Uploads are read line by line from a binary file (the API's spooled upload, the CLI's file): the
file is never held whole, decoded or parsed at once. Rows go into the database in batches inside the
caller's one transaction, so a bad row (a clear 4xx naming its line and column) or any failure half
way stores nothing: one version or none. Uploaded items pass the workspace's redaction policy.

File shapes (the same both ways, so an export uploads again as it was):
- JSONL: one object a line, {"input": {variables} | [messages], "expected"?: text, "metadata"?:
  {key: text}}; an export adds "item" and "source_request", which an upload ignores (an upload never
  links items to requests).
- CSV: a header row; each column is a prompt variable, except `expected` (the expected output),
  `metadata.KEY` (a metadata value) and `messages` (a JSON list of chat messages, instead of
  variables). Exports mark cells a spreadsheet would run as a formula (services/exports.safe_cell)
  and can start with a byte order mark for Excel.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, BinaryIO, Iterator

from sqlalchemy.orm import Session

from promptyard.domain import datasets as dd
from promptyard.domain import library_texts
from promptyard.domain.records import Principal
from promptyard.errors import InvalidInput
from promptyard.services import datasets, redaction
from promptyard.services.exports import BOM, safe_cell

FORMATS = ("csv", "jsonl")
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
MAX_ROWS = datasets.MAX_ITEMS
MAX_LINE = 1_000_000  # bytes of one line
EXPORT_ONLY = ("item", "source_request")


def format_of(fmt: Any, filename: str | None = None) -> str:
    """The format asked for, else the file name's extension."""
    if not fmt and filename and "." in filename:
        fmt = filename.rsplit(".", 1)[1].lower()
        fmt = "jsonl" if fmt in ("json", "ndjson") else fmt
    if fmt not in FORMATS:
        raise InvalidInput("errors.datasets.format", field="format", formats=", ".join(FORMATS))
    return fmt


# --- upload ----------------------------------------------------------------------------------------


def upload(session: Session, p: Principal, dataset_id: int, file: BinaryIO, fmt: str, *, message: Any = ""
           ) -> dict[str, Any]:
    """A new version with the file's rows added at the end."""
    change = datasets._Change(session, p, dataset_id)
    red = redaction.for_workspace(session, p.workspace_id)
    rows = _jsonl_rows(file) if fmt == "jsonl" else _csv_rows(file)
    for n, item in enumerate(rows, 1):
        if n > MAX_ROWS:
            raise InvalidInput("errors.datasets.too_many", limit=MAX_ROWS)
        change.add(datasets.redacted(red, item))
    if not change.added:
        raise InvalidInput("errors.datasets.file_empty", field="file")
    return change.commit(message)


def _lines(file: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one by one (a BOM before the first is dropped)."""
    for number, raw in enumerate(iter(lambda: file.readline(MAX_LINE + 1), b""), 1):
        if len(raw) > MAX_LINE:
            raise dd.Located(InvalidInput("errors.datasets.line_long", limit=MAX_LINE), "errors.datasets.at_row",
                             line=number, column=1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            column = len(raw[:exc.start].decode("utf-8", "replace")) + 1
            raise dd.Located(InvalidInput("errors.datasets.not_utf8"), "errors.datasets.at_row",
                             line=number, column=column) from None
        yield number, text[1:] if number == 1 and text.startswith(BOM) else text


def _jsonl_rows(file: BinaryIO) -> Iterator[dd.Item]:
    for number, text in _lines(file):
        if not text.strip():
            continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise dd.Located(InvalidInput("errors.datasets.bad_json", reason=library_texts.json_reason(exc.msg)), "errors.datasets.at_row",
                             line=number, column=exc.colno) from None
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k not in EXPORT_ONLY}
        try:
            yield dd.item(raw)
        except InvalidInput as exc:
            field = str(exc.params.get("field") or "").split(".")[0]
            column = text.find(f'"{field}"') + 1 if field else 1
            raise dd.Located(exc, "errors.datasets.at_row", line=number, column=max(column, 1)) from None


def _csv_rows(file: BinaryIO) -> Iterator[dd.Item]:
    lines = _lines(file)
    reader = csv.reader(text for _, text in lines)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise dd.Located(InvalidInput("errors.datasets.csv_header"), "errors.datasets.at_row", line=1, column=1)
        header = [h.strip() for h in header]
        dup = next((i for i, h in enumerate(header) if h and h in header[:i]), None)
        if dup is not None:
            raise dd.Located(InvalidInput("errors.datasets.csv_duplicate", name=header[dup]),
                             "errors.datasets.at_row", line=1, column=dup + 1)
        line = reader.line_num + 1
        for row in reader:
            if any(cell for cell in row):
                yield _csv_item(header, row, line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise dd.Located(InvalidInput("errors.datasets.bad_csv", reason=str(exc)), "errors.datasets.at_row",
                         line=reader.line_num, column=1) from None


def _csv_item(header: list[str], row: list[str], line: int) -> dd.Item:
    if len(row) > len(header):
        raise dd.Located(InvalidInput("errors.datasets.csv_extra", n=len(row), m=len(header)),
                         "errors.datasets.at_row", line=line, column=len(header) + 1)
    variables: dict[str, Any] = {}
    raw: dict[str, Any] = {"metadata": {}}
    where: dict[str, int] = {}
    for column, (name, cell) in enumerate(zip(header, row), 1):
        if not name:
            continue
        if name == "expected":
            raw["expected"], where["expected"] = cell or None, column
        elif name.startswith("metadata."):
            if cell:
                raw["metadata"][name[len("metadata."):]] = cell
            where.setdefault("metadata", column)
        elif name == "messages":
            where["input"] = column
            if cell:
                try:
                    raw["input"] = json.loads(cell)
                except json.JSONDecodeError as exc:
                    raise dd.Located(InvalidInput("errors.datasets.bad_json", reason=library_texts.json_reason(exc.msg)),
                                     "errors.datasets.at_row", line=line, column=column) from None
        else:
            variables[name] = cell
            where.setdefault("input", column)
    if "input" not in raw:
        raw["input"] = variables
    try:
        return dd.item(raw)
    except InvalidInput as exc:
        field = str(exc.params.get("field") or "").split(".")[0]
        raise dd.Located(exc, "errors.datasets.at_row", line=line, column=where.get(field, 1)) from None


# --- export ----------------------------------------------------------------------------------------


def export(session: Session, p: Principal, dataset_id: int, version: int | None, fmt: str, *,
           bom: bool = False) -> tuple[str, Iterator[str]]:
    """A file name and the version's items as text chunks (in batches: constant memory). Format,
    rights and version are checked when called, before the first chunk is asked for."""
    fmt = format_of(fmt)
    d, number, each = datasets.iterate(session, p, dataset_id, version)
    filename = f"dataset-{d['id']}-v{number}.{fmt}"
    if fmt == "jsonl":
        return filename, _jsonl(each)
    # A CSV's header names every variable and metadata key: one pass over the inputs finds them.
    _, _, first = datasets.iterate(session, p, dataset_id, number)
    return filename, _csv(each, _columns(first), BOM if bom else "")


def _jsonl(items: Iterator[dict]) -> Iterator[str]:
    for i in items:
        yield json.dumps({"item": i["id"], "input": i["input"], "expected": i["expected"], "metadata": i["metadata"],
                          "source_request": i["source_request"]}, ensure_ascii=False) + "\n"


def _columns(items: Iterator[dict]) -> list[str]:
    variables, keys, messages = {}, {}, False
    for i in items:
        if isinstance(i["input"], list):
            messages = True
        else:
            variables.update(dict.fromkeys(i["input"]))
        keys.update(dict.fromkeys(i["metadata"]))
    # Sorted: PostgreSQL's JSONB keeps an object's keys in its own order, not the order they came in.
    return (sorted(variables) + (["messages"] if messages else []) + ["expected"]
            + [f"metadata.{k}" for k in sorted(keys)])


def _csv(items: Iterator[dict], columns: list[str], start: str) -> Iterator[str]:
    buf = io.StringIO()
    buf.write(start)
    writer = csv.writer(buf)
    writer.writerow(columns)
    for i in items:
        inp = i["input"]
        cells = []
        for col in columns:
            if col == "expected":
                value: Any = i["expected"]
            elif col == "messages":
                value = json.dumps(inp, ensure_ascii=False) if isinstance(inp, list) else ""
            elif col.startswith("metadata."):
                value = i["metadata"].get(col[len("metadata."):])
            else:
                value = inp.get(col) if isinstance(inp, dict) else None
            cells.append(safe_cell(value))
        writer.writerow(cells)
        if buf.tell() > 65536:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
