"""In headless Chromium: a workspace without a time zone shows pages in the browser's zone (sent by
app.js), named in the header; without JavaScript, UTC."""

from __future__ import annotations

import pytest

from tests.browser import new_page

pytestmark = pytest.mark.one_database  # the storage is not the subject: SQLite only


def test_pages_follow_the_browsers_zone_and_utc_without_javascript(browser, live):  # noqa: ANN001
    page = new_page(browser, live, "ja", zone="America/Sao_Paulo")  # UTC-3 all year
    assert page.inner_text("header a.zone") == "America/Sao_Paulo (UTC-3)"
    page.context.close()
    page = new_page(browser, live, "en", js=False, zone="America/Sao_Paulo")
    assert page.inner_text("header a.zone") == "UTC"
    page.context.close()
