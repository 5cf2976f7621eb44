"""What the request list shows of each log's text (pure): the question (the last user message) and
the answer (the output's text), one line each, with a text search's match marked where it falls.

The mark is found with the search's own rules (domain/text_tokens.snippet: NFKC, case folding,
offsets mapped back to the original characters), so what is marked is what matched. The line
shown is the first line of the text, or, under a text search, the line holding the match (a
question's second line may be what was searched for). Nothing here produces markup: the template
escapes the three pieces around the mark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promptyard.domain import text_tokens
from promptyard.web.ui import conversation

LINE = 240  # characters kept of a line: the cell clips to its width, its title shows this much
LEAD = 20  # characters kept before a match, so the mark stays in sight in a narrow cell
FIELDS = {"question": ("text", "input"), "answer": ("text", "output")}  # the conditions each may show


@dataclass(frozen=True)
class Line:
    """One line of a text; text[start:end] is marked (nothing when start == end)."""

    text: str
    start: int = 0
    end: int = 0

    @property
    def marked(self) -> bool:
        return self.end > self.start


def question_text(value: Any) -> str:
    """The text of the last user message of an input (the whole input when it is one text)."""
    turns = conversation.turns(value, "user") or []
    users = [t for t in turns if t.role == "user"] or turns[-1:]
    return _text(users[-1]) if users else ""


def answer_text(value: Any) -> str:
    """The text of an output: its assistant turns' text (tool calls are not an answer's text)."""
    return "\n".join(filter(None, (_text(t) for t in conversation.turns(value, "assistant") or [])))


def _text(turn: conversation.Turn) -> str:
    return "\n".join(p.text for p in turn.parts if p.kind == "text" and p.text)


def line(text: str, queries: list[tuple[str, str]], kind: str) -> Line | None:
    """The line to show of `text` (a question or an answer, `kind`), marked by the first of the
    text conditions `queries` that applies to it and matches in one of its lines; None when empty."""
    for field, query in queries:
        if field not in FIELDS[kind]:
            continue
        hit = text_tokens.snippet(query, text)
        if hit:
            return _window(hit.text, hit.start, hit.end)
    first = next((s for s in (x.strip() for x in text.split("\n")) if s), "")
    return Line(_cut(first)) if first else None


def _window(part: str, start: int, end: int) -> Line:
    """The snippet (its line from the start when the match is near it, text_tokens.SNIPPET > LEAD)
    with at most LEAD characters before the match, "…" where they were cut."""
    if start <= LEAD:
        return Line(_cut(part), start, min(end, LINE - 1))
    shown = "…" + part[start - LEAD:]
    return Line(_cut(shown), LEAD + 1, min(end - start + LEAD + 1, LINE - 1))


def _cut(text: str) -> str:
    return text if len(text) <= LINE else text[:LINE - 1] + "…"


def of(item: dict[str, Any], queries: list[tuple[str, str]]) -> dict[str, Line | None]:
    """{question, answer} of a list item that carries its input and output (browse(full=True))."""
    return {"question": line(question_text(item.get("input")), queries, "question"),
            "answer": line(answer_text(item.get("output")), queries, "answer")}
