"""LLM output as safe Markdown: the `markdown` template filter (registered in render.py).

    {{ text | markdown }}          -> Markup: headings, lists, tables, code, emphasis, links
    {{ text | markdown(lang) }}    -> the same, the "truncated" note in `lang` (default: the page's)

What it allows, and why that is safe for text a model (or whoever wrote into a log) chose:
- No raw HTML: markdown-it runs with `html` off, so `<script>`, `<img onerror>` and any tag are
  shown as text (escaped), in paragraphs, tables and code alike.
- Links only to http(s) and mailto (`validateLink`); anything else (`javascript:`, `data:`,
  `vbscript:`, relative paths) stays plain text. Every link opens in a new tab with
  `rel="noopener noreferrer"`; autolinks (`<https://...>`) likewise.
- No image is loaded: `![alt](url)` becomes a link to the url, its text the alt text (so the
  page makes no remote request and the reader still sees what was meant).
- Bounded work: a text is cut at MAX_CHARS (the page then says it was truncated; the raw view has
  everything), blocks nest at most MAX_NESTING deep (markdown-it's own guard), and one page renders
  at most PAGE_CHARS of Markdown (render.page gives each page a `Budget`; past it, texts are shown
  as escaped plain text), so a huge, many-turned or deeply nested answer cannot stall a page
  (docs/ui.md, tests/test_markdown.py).
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markupsafe import Markup

from promptyard import catalogue

MAX_CHARS = 20_000  # per text: ~5 pages of answer; ~0.1 s for plain prose, ~0.4 s for the worst bombs
PAGE_CHARS = 60_000  # per page (a log may hold hundreds of turns): beyond it texts are shown plain
MAX_NESTING = 20
SCHEMES = ("http:", "https:", "mailto:")
LINK_ATTRS = (("rel", "noopener noreferrer"), ("target", "_blank"))


def _allowed(url: str) -> bool:
    return url.strip().lower().startswith(SCHEMES)


def _link_open(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    for name, value in LINK_ATTRS:
        tokens[idx].attrSet(name, value)
    return self.renderToken(tokens, idx, options, env)


def _image(self: Any, tokens: list, idx: int, options: Any, env: Any) -> str:
    """An image as a link to it (never an <img>): its alt text, else its address, as the text."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = self.renderInlineAsText(token.children or [], options, env) or src
    rel, target = (v for _, v in LINK_ATTRS)
    return (f'<a class="md-image" href="{escapeHtml(src)}" rel="{rel}" target="{target}">'
            f"{escapeHtml(alt)}</a>")


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "maxNesting": MAX_NESTING})
    md.enable(["table", "strikethrough"])
    md.validateLink = _allowed
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


_MD = _parser()


class Budget:
    """The characters of Markdown one page may still render (one per page render)."""

    def __init__(self, chars: int = PAGE_CHARS) -> None:
        self.left = chars

    def take(self, n: int) -> bool:
        if n > self.left:
            self.left = 0
            return False
        self.left -= n
        return True


def render(text: str | None, lang: str = catalogue.DEFAULT, budget: Budget | None = None) -> Markup:
    """The HTML of `text` as Markdown (see the module's rules); empty for None. Past the page's
    `budget`, the text escaped in a plain block instead."""
    if not text:
        return Markup("")
    if not isinstance(text, str):
        text = str(text)
    if budget is not None and not budget.take(min(len(text), MAX_CHARS)):
        return Markup('<div class="md md-plain">{}</div>').format(text)
    cut = len(text) > MAX_CHARS
    html = _MD.render(text[:MAX_CHARS] if cut else text)
    if cut:
        note = escapeHtml(catalogue.translate(lang, "markdown.truncated", n=MAX_CHARS))
        html += f'<p class="md-truncated">{note}</p>'
    return Markup(f'<div class="md">{html}</div>')


@pass_context
def markdown_filter(context: Any, text: str | None, lang: str | None = None) -> Markup:
    """The Jinja filter: `{{ text | markdown }}` (the page's language for the truncated note)."""
    return render(text, lang or context.get("lang") or catalogue.DEFAULT, context.get("markdown_budget"))
