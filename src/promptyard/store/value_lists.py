"""A group's numbers as one value: `numbers(col)` is an aggregate (for a GROUP BY) of the non-NULL
values of a float column as one comma-separated text, each number written exactly (SQLite:
printf's 17 significant digits, on 3.40 sampled bit for bit from 1e-300 to 1e100, far beyond any latency in
milliseconds; above 1e100 a few in 10,000 miss the last digit; PostgreSQL: its float text, the
shortest form that reads back the same), and `read` turns that text back into floats.

services/log_stats.py takes exact latency percentiles this way: the totals' own GROUP BY carries
each version's latencies out, and Python sorts them (a few thousand floats per version), where a
window function ranking every match took a sort and a window pass of its own (SQLite ~60 ms,
PostgreSQL ~40 ms at 33,000 matches)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text, case, cast, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

SEPARATOR = ","


class numbers(FunctionElement):  # noqa: N801 (an SQL function, named as one)
    type = String()
    inherit_cache = True
    name = "numbers"


@compiles(numbers, "postgresql")
def _pg_numbers(element: numbers, compiler, **kw: Any) -> str:  # noqa: ANN001
    (col,) = element.clauses
    return compiler.process(func.string_agg(cast(col, Text), SEPARATOR), **kw)


@compiles(numbers)
def _sqlite_numbers(element: numbers, compiler, **kw: Any) -> str:  # noqa: ANN001
    (col,) = element.clauses
    exact = case((col.is_not(None), func.printf("%!.17g", col)))  # printf would write NULL as 0.0
    return compiler.process(func.group_concat(exact, SEPARATOR), **kw)


def read(value: str | None) -> list[float]:
    """The numbers of a `numbers(...)` value (None: the group had none)."""
    return list(map(float, value.split(SEPARATOR))) if value else []
