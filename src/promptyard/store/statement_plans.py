"""How PostgreSQL plans statements whose best plan depends on their values.

psycopg prepares a statement once a connection has run it five times, and after five more runs
PostgreSQL switches a prepared statement to its generic plan when that looks cheaper: planned once
with the values unknown. For a statement whose values decide the plan that is a trap. The filtered
analytics (services/log_stats.py) with a workspace, key and value unknown are estimated at a few
dozen matching rows, so the generic plan gives up the parallel worker and sorts the score rows on
disk instead of hashing them: at 32,000 matches of 1,000,000 logs 25-30% slower than
the plan for the values (docs/benchmarks.md), and a long-running server reaches it after ten calls
on a pooled connection (tests/test_log_stats_pass.py counts the plans). `for_values` plans each statement run
inside it for its own values (~1 ms of planning each time). PostgreSQL reads run in autocommit
(store/db.py), so the setting is the connection's: set before, reset after (two short round trips).
SQLite plans every statement anew anyway."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session


@contextmanager
def for_values(session: Session) -> Iterator[None]:
    """The statements run inside are planned for their own values, never generically (PostgreSQL)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(text("SET plan_cache_mode = force_custom_plan"))
    try:
        yield
    finally:
        session.execute(text("RESET plan_cache_mode"))
