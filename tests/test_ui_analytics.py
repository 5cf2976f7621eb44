"""The analytics page in the navigation, and its trends over time."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.one_database


@pytest.mark.parametrize(("lang", "word"), [("en", "Analytics"), ("ja", "分析")])
def test_analytics_is_in_the_top_navigation(ui, lang, word):  # noqa: ANN001
    page = ui("viewer", lang=lang).get("/ui/analytics").text
    nav = re.search(r'<nav class="main".*?</nav>', page, re.S).group(0)
    assert f'<a href="/ui/analytics" aria-current="page">{word}</a>' in nav
