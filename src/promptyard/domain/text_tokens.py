"""Text search semantics and the tokens of the text index (pure; docs/requests.md "Text search").

A text condition (`text ~ "用量"`, `input ~`, `output ~`) matches a log when the query, normalised,
is a substring of the field's text, normalised. The normalisation (`normal`) is NFKC, then Unicode
case folding, then NFKC again: full-width and half-width forms meet (`ＡＢＣ` = `abc`, `ｶﾞ` = `ガ`),
case is folded for every script (`Ä` = `ä`, not ASCII only), whitespace and punctuation are kept.
Both databases answer from an index of these same tokens, so they agree with each other and with
`matches` below, which is the definition.

Tokens: Japanese has no spaces to split words on, and 1- and 2-character words are common (`薬`,
`用量`), so the index holds, for every character position i of the normalised text, the gram
t[i:i+2] (the last position holds its character alone). A query of m >= 2 characters is the phrase
of its m - 1 grams at consecutive positions, which is exactly "the query is a substring" (`用量`
does not match `用 ... 量`); a 1-character query is any gram that starts with it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from promptyard.domain.query import And, Cond, Node, Or
from promptyard.errors import InvalidInput

# PostgreSQL keeps positions up to 16,383 in a tsvector: a long text is indexed in chunks of CHUNK
# grams that start every STEP grams, so a match of up to CHUNK - STEP + 1 characters lies within one.
CHUNK, STEP = 16_000, 14_000
MAX_QUERY = CHUNK - STEP  # normalised characters in one text condition, on both databases


def normal(text: str) -> str:
    """The normalised form both sides of a text condition are compared in. (The quick checks skip
    normalising what is normal already: most text, at a hundredth of the cost.)"""
    nfkc = text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)
    folded = nfkc.casefold()
    if folded == nfkc or unicodedata.is_normalized("NFKC", folded):
        return folded
    return unicodedata.normalize("NFKC", folded)


def matches(query: str, text: str) -> bool:
    """The definition of a text condition (the index must answer the same)."""
    return normal(query) in normal(text)


def grams(norm: str) -> list[str]:
    """The gram at each position of an already normalised text."""
    return [norm[i:i + 2] for i in range(len(norm))]


def query_grams(query: str) -> tuple[list[str], bool]:
    """(grams, prefix): the phrase of consecutive grams a query stands for, or (when `prefix`) the
    one character any gram starting with it matches. ([], False) for an empty query: every text."""
    q = normal(query)
    if len(q) > MAX_QUERY:
        raise InvalidInput("errors.filters.text_search_most_characters", max_query=MAX_QUERY, n=len(q),
                           details={"field": "filter"})
    if len(q) <= 1:
        return [q] if q else [], bool(q)
    return [q[i:i + 2] for i in range(len(q) - 1)], False


def chunks(norm: str) -> list[list[str]]:
    """The grams of a normalised text in the chunks PostgreSQL indexes (one chunk when short)."""
    all_grams = grams(norm)
    if len(all_grams) <= CHUNK:
        return [all_grams]
    return [all_grams[start:start + CHUNK] for start in range(0, len(all_grams) - (CHUNK - STEP), STEP)]


# --- highlighting -------------------------------------------------------------------------------

SNIPPET = 60  # characters of context around a match, at most, on each side


@dataclass(frozen=True)
class Snippet:
    """Part of one line of a text holding a match: text[start:end] is what matched."""

    text: str
    start: int
    end: int


def snippet(query: str, text: str) -> Snippet | None:
    """The first match of `query` in a line of `text` (as `matches` defines it), inside the part of
    that line around it. Offsets count characters of the original text, mapped through the
    normalisation one character (with the marks that join it) at a time, in the matching line only
    (a page of results maps 50 lines, not 50 texts); a match that only the whole-line normalisation
    finds (rarer joins, e.g. Hangul jamo) or that spans lines gives None."""
    q = normal(query)
    if not q:
        return None
    for line in text.split("\n"):
        norm = normal(line)
        if q in norm:
            found = _mapped(q, line, norm)
            if found is None:
                return None
            begin, end = found
            left, right = max(0, begin - SNIPPET), min(len(line), end + SNIPPET)
            return Snippet(line[left:right], begin - left, end - left)
    return None


def _mapped(q: str, line: str, norm: str) -> tuple[int, int] | None:
    """(start, end) in `line` (whose normal form is `norm`) of the first match of the normalised `q`. A line
    that is its own normal form (most text) maps to itself, a mark staying with the character before it;
    any other is mapped character by character (`_mapped_by_character`: a tenth of the time, on 50 lines
    of a page of results)."""
    if norm == line:
        found = line.find(q)
        if found >= 0 and not unicodedata.combining(line[found]):
            end = found + len(q)
            while end < len(line) and unicodedata.combining(line[end]):
                end += 1
            return found, end
    return _mapped_by_character(q, line)


def _mapped_by_character(q: str, line: str) -> tuple[int, int] | None:
    """(start, end) in `line` of the first match of the normalised `q`, character by character."""
    clusters = _clusters(line)
    pieces = [normal(line[a:b]) for a, b in clusters]
    starts, pos = [], 0
    for piece in pieces:
        starts.append(pos)
        pos += len(piece)
    found = "".join(pieces).find(q)
    if found < 0:
        return None
    return clusters[_index_at(starts, found)][0], clusters[_index_at(starts, found + len(q) - 1)][1]


def _clusters(text: str) -> list[tuple[int, int]]:
    """(start, end) of each character with the marks that normalise into it (`ｶﾞ` is one: ガ)."""
    out: list[tuple[int, int]] = []
    for i, ch in enumerate(text):
        form = normal(ch)
        if out and form and unicodedata.combining(form[0]):
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _index_at(starts: list[int], offset: int) -> int:
    """The original character whose normalised form covers `offset`."""
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


def text_queries(node: Node | None) -> list[tuple[str, str]]:
    """(field, query) of each text condition a match must satisfy or may satisfy (not under NOT),
    in the filter's order: what a result's highlight looks for."""
    if isinstance(node, Cond):
        return [(node.field, node.value)] if node.field in ("text", "input", "output") and node.value else []
    if isinstance(node, (And, Or)):
        return [q for item in node.items for q in text_queries(item)]
    return []


def first_match(queries: list[tuple[str, str]], texts: dict[str, str]) -> dict | None:
    """The highlight of one result: {field, text, start, end} for the first query that has a
    snippet in the first of its fields (input before output), or None."""
    for field, query in queries:
        for name in ("input", "output") if field == "text" else (field,):
            found = snippet(query, texts[name])
            if found:
                return {"field": name, "text": found.text, "start": found.start, "end": found.end}
    return None
