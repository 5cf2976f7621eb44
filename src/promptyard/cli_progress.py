"""The progress bar of long CLI work (export, purge, erase, db redact): rows done, rows a second and
the time left, on standard error, and only when standard error is a terminal: piped or under a
service manager the command prints nothing but its result. Drawn by `rich` (imported only then)."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator


class Bar:
    """What a command tells the bar: `advance(n)` rows more; `total(n)` once the total is known;
    `done(n)` when the work ended in one step (a purge: the server answers with its count)."""

    def __init__(self, progress: Any = None, task: Any = None):
        self._progress, self._task = progress, task

    @property
    def shown(self) -> bool:
        """Whether it draws (a command asks for a total only then: that may cost a query)."""
        return self._progress is not None

    def advance(self, rows: int) -> None:
        if self._progress is not None and rows:
            self._progress.advance(self._task, rows)

    def total(self, rows: int | None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=rows)

    def done(self, rows: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=rows, completed=rows)


def _columns(unit: str) -> list[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task: Any) -> Text:
            average = task.completed / task.elapsed if task.completed and task.elapsed else None
            speed = task.finished_speed or task.speed or average  # rich's speed needs two steps
            return Text(f"{speed:,.0f} {unit}/s" if speed else f"- {unit}/s")

    return [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), Rate(),
            TextColumn("ETA"), TimeRemainingColumn()]


@contextmanager
def progress(what: str, total: int | None = None, *, unit: str = "rows", quiet: bool = False) -> Iterator[Bar]:
    """A bar for `what` (e.g. "export"), to `total` rows when known (else rows and rate, no ETA);
    a bar that draws nothing when standard error is not a terminal, or when `quiet` (the command's
    own output goes to the same terminal)."""
    if quiet or not sys.stderr.isatty():
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(*_columns(unit), console=Console(stderr=True), redirect_stdout=False,
                  redirect_stderr=False) as shown:
        yield Bar(shown, shown.add_task(what, total=total))
