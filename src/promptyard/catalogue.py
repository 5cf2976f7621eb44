"""Message catalogues: JSON files in `messages/`, merged per language; the UI's words and every
error a service raises (`errors.*` keys, see `errors.py`).

`en.json` and `ja.json` hold the shared and registry pages; each other area adds
`<area>.en.json` / `<area>.ja.json` (e.g. `requests.en.json`). Keys are dotted names
("prompts.title"); values are `str.format` texts with named fields ("{n} versions"); a text with
doubled braces ("{{") is always formatted, so a literal brace in a message is written "{{". A key missing
in Japanese falls back to English, and a key missing everywhere shows as the key itself (so a typo
is visible on the page, never a blank); tests check that both languages have every key.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

LANGUAGES = ("en", "ja")
DEFAULT = "en"
DIRECTORY = Path(__file__).parent / "messages"

log = logging.getLogger("promptyard.ui")


@functools.lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language, from all of its files (read once per process)."""
    merged: dict[str, str] = {}
    for path in sorted(DIRECTORY.glob("*.json")):
        parts = path.name.split(".")  # en.json | requests.en.json
        if parts[-2] != lang:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        clash = set(merged) & set(data)
        if clash:
            raise ValueError(f"{path.name} redefines keys {sorted(clash)[:5]} of another catalogue file")
        merged.update(data)
    return merged


def has(key: str) -> bool:
    """Whether `key` names a message (in English, the language every message has)."""
    return key in catalogue(DEFAULT)


class Text:
    """A message to translate later, in the reader's language: a catalogue key and its fields (which
    may be Texts too). Errors take these as fields for the words a caller supplies ("prompt name")."""

    __slots__ = ("key", "fields")

    def __init__(self, key: str, /, **fields: object):
        self.key, self.fields = key, fields

    def render(self, lang: str) -> str:
        return translate(lang, self.key, **self.fields)

    def __str__(self) -> str:
        return self.render(DEFAULT)

    def __repr__(self) -> str:
        return f"Text({self.key!r})"


def translate(lang: str, key: str, /, **fields: object) -> str:
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT).get(key)
    if text is None:
        log.warning("missing UI message %r", key)
        return key
    if not fields and "{{" not in text and "}}" not in text:
        return text  # (a text with literal braces and no fields, e.g. a JSON example, is shown as it is)
    fields = {k: v.render(lang) if isinstance(v, Text) else v for k, v in fields.items()}
    try:
        return text.format(**fields)
    except (KeyError, IndexError, ValueError):
        log.warning("UI message %r does not fit fields %s", key, sorted(fields))
        return text


def negotiate(saved: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The user's saved choice, else the anonymous choice cookie, else the browser's preference."""
    for choice in (saved, cookie):
        if choice in LANGUAGES:
            return choice
    best, best_q = DEFAULT, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang in LANGUAGES and q > best_q:
            best, best_q = lang, q
    return best
