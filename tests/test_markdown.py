"""LLM output as safe Markdown (web/ui/markdown.py): what renders, what stays text, and the bounds
on the work a hostile answer can cause. The browser side (nothing runs, nothing loads) is in
tests/test_ui_markdown_browser.py."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from promptyard.web.ui import markdown

pytestmark = pytest.mark.one_database  # no storage involved


def tags(html: str) -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []

    class Walk(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            found.append((tag, dict(attrs)))

    Walk().feed(html)
    return found


def test_headings_lists_tables_code_emphasis_and_links_render():
    html = str(markdown.render("# 用量\n\n- 朝\n- 夜\n\n1. one\n\n| 薬 | 量 |\n|---|---|\n| A | `2錠` |\n\n"
                               "```python\nprint('<b>')\n```\n\n**太字** *斜体* ~~消し~~ "
                               "[添付文書](https://www.pmda.go.jp/) <mailto:ph@example.jp>"))
    names = [t for t, _ in tags(html)]
    for tag in ("h1", "ul", "ol", "li", "table", "th", "td", "code", "pre", "strong", "em", "s", "a"):
        assert tag in names, tag
    assert "print(&#x27;&lt;b&gt;&#x27;)" in html or "print('&lt;b&gt;')" in html
    links = [a for t, a in tags(html) if t == "a"]
    assert [a["href"] for a in links] == ["https://www.pmda.go.jp/", "mailto:ph@example.jp"]
    assert all(a["rel"] == "noopener noreferrer" and a["target"] == "_blank" for a in links)


@pytest.mark.parametrize("text", [
    "<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=1">', "<b onclick=alert(1)>x</b>",
    "| a |\n|---|\n| <script>alert(1)</script> |", "`<script>alert(1)</script>`",
    "<div>\n<script>alert(1)</script>\n</div>", "<!-- x --><iframe src=https://evil.example></iframe>",
])
def test_raw_html_is_shown_as_text(text):
    html = str(markdown.render(text))
    assert [t for t, _ in tags(html) if t in ("script", "img", "b", "iframe")] == []
    assert all(not k.startswith("on") for _, a in tags(html) for k in a)
    assert "&lt;" in html


@pytest.mark.parametrize("text", [
    "[x](javascript:alert(1))", "[x](JavaScript:alert(1))", "[x](  javascript:alert(1))", "<javascript:alert(1)>",
    "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](vbscript:msgbox)", "[x](/ui/admin)", "[x](//evil.example/)",
    "[x](file:///etc/passwd)", "[x]: javascript:alert(1)\n\n[x]", "[x](java&#x73;cript:alert(1))",
    "[x](&#106;avascript:alert(1))", "<data:text/html,<script>alert(1)</script>>",
])
def test_only_http_https_and_mailto_links_survive(text):
    html = str(markdown.render(text))
    assert [a for t, a in tags(html) if t == "a"] == [], html


def test_images_are_never_loaded_but_stay_readable():
    html = str(markdown.render("![用法の図](https://evil.example/x.png) ![](https://evil.example/y.png) "
                               "![z](javascript:alert(1)) ![d](data:image/png;base64,AAAA)"))
    assert [t for t, _ in tags(html) if t == "img"] == []
    links = [(a["href"], a.get("class")) for t, a in tags(html) if t == "a"]
    assert links == [("https://evil.example/x.png", "md-image"), ("https://evil.example/y.png", "md-image")]
    assert "用法の図" in html and "javascript:" not in html.split("![z]")[0]


@pytest.mark.parametrize("bomb", [
    "*a **" * 10_000, "[" * 50_000, "![" * 30_000, "*_" * 30_000, "[a](" * 20_000, "> " * 30_000 + "x",
    "".join("  " * i + "- x\n" for i in range(2_000)), "|" * 50_000 + "\n" + "|-" * 25_000, "<" * 50_000,
    "`" * 50_000, "_" * 50_000, "&amp;" * 20_000,
])
def test_huge_or_nested_input_is_bounded_and_says_truncated(bomb):
    started = time.perf_counter()
    html = str(markdown.render(bomb, "ja"))
    assert time.perf_counter() - started < 3  # ~0.4 s worst on a quiet machine; this one is shared
    if len(bomb) > markdown.MAX_CHARS:
        assert "冒頭のみ" in html
    assert len(html) < 12 * markdown.MAX_CHARS


def test_a_page_renders_a_bounded_amount_then_plain_text():
    budget = markdown.Budget(30)
    assert "<strong>" in str(markdown.render("**one** " * 3, budget=budget))
    plain = str(markdown.render("**two** <b>", budget=budget))
    assert "<strong>" not in plain and "**two** &lt;b&gt;" in plain and "md-plain" in plain


def test_the_filter_uses_the_pages_language():
    from promptyard.web.ui.render import env

    page = env.from_string("{{ text | markdown }}")
    assert "冒頭のみ" in page.render(text="x" * (markdown.MAX_CHARS + 1), lang="ja")
    assert "only its beginning" in page.render(text="x" * (markdown.MAX_CHARS + 1), lang="en")
    assert page.render(text=None, lang="en") == "" and "<em>" in page.render(text="*x*", lang="en")
