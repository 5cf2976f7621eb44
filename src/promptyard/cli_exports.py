"""Streaming an export from the server into a file (or stdout) without holding it in memory, with a
progress bar on a terminal (not when the rows themselves go to that terminal)."""

from __future__ import annotations

import sys
from typing import Any, Callable

from promptyard.cli_api import Api
from promptyard.cli_progress import progress
from promptyard.sdk.http import error_of


def download(api: Api, path: str, params: dict[str, Any], *, fmt: str, output: str | None,
             total: Callable[[], int | None], unit: str = "rows") -> None:
    """GET `path` as a stream into `output` (stdout when None); `total` is asked only when a bar shows."""
    out = open(output, "wb") if output else sys.stdout.buffer
    rows = ExportRows(fmt)
    try:
        with progress("export", quiet=not output and sys.stdout.isatty(), unit=unit) as bar:
            if bar.shown:
                bar.total(total())
            with api.http.stream("GET", path, params=params, timeout=None) as r:
                if r.status_code >= 400:
                    r.read()
                    raise error_of(r)
                for chunk in r.iter_bytes():
                    out.write(chunk)
                    bar.advance(rows.count(chunk))
    finally:
        if output:
            out.close()


class ExportRows:
    """Counts the rows of an export as its bytes stream in: JSONL lines; CSV line ends outside quoted
    cells (a cell may hold line breaks; an escaped quote "" toggles twice), less the header row."""

    def __init__(self, fmt: str):
        self.csv, self.quoted, self.header = fmt == "csv", False, fmt == "csv"

    def count(self, chunk: bytes) -> int:
        if not self.csv:
            return chunk.count(b"\n")
        n = 0
        for i, part in enumerate(chunk.split(b'"')):
            if i:
                self.quoted = not self.quoted
            if not self.quoted:
                n += part.count(b"\n")
        if self.header and n:
            n, self.header = n - 1, False
        return n
