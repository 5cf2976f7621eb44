"""The server's log never carries an exception's message (SQL, parameters, request content)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import sqlalchemy as sa

from promptyard import log_scrub

SRC = Path(__file__).resolve().parents[1] / "src" / "promptyard"


def test_a_failure_is_logged_with_names_and_frames_only(caplog):
    engine = sa.create_engine("sqlite://")
    statement = " ".join(["SELECT", "secret_column", "FROM", "no_such_table", "WHERE x = 'lorem'"])
    with caplog.at_level(logging.ERROR):
        try:
            with engine.connect() as c:
                c.execute(sa.text(statement))  # the frames show this line, not the statement
        except sa.exc.OperationalError:
            log_scrub.failure(logging.getLogger("t"), "storing item %s failed", 7)
    assert "storing item 7 failed" in caplog.text and "sqlalchemy.exc.OperationalError" in caplog.text
    assert "SELECT" not in caplog.text and "lorem" not in caplog.text and "no_such_table" not in caplog.text


def test_no_server_module_logs_a_raw_exception():
    """log.exception (or exc_info) prints the message, e.g. a database error's SQL: the evaluation
    workers did, when an export test broke the database under them. The SDK runs in the user's
    process and keeps the user's own logging."""
    wrong = []
    for path in SRC.rglob("*.py"):
        if "sdk" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                    node.func.attr == "exception" and getattr(node.func.value, "id", "") == "log"
                    or any(k.arg == "exc_info" for k in node.keywords)):
                wrong.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert wrong == []
