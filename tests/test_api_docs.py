"""The API docs (/api/v1/docs) come from this server's own files with a strict CSP, and work with
no network; every answer carries X-Content-Type-Options: nosniff."""

from __future__ import annotations

import re

import pytest

SRC = re.compile(r"""(?:src|href)="([^"]*)\"""")


def test_docs_page_references_only_local_files_that_exist(api):
    page = api.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = SRC.findall(page.text)
    assert len(urls) >= 4, page.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), f"not a local URL: {url}"
        asset = api.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    types = {api.get(u).headers["content-type"].split(";")[0] for u in urls}
    assert {"text/javascript", "text/css"} <= types
    assert "<script>" not in page.text, "an inline script would need 'unsafe-inline'"
    assert 'data-openapi-url="/api/v1/openapi.json"' in page.text


def test_docs_page_has_a_strict_content_security_policy(api):
    csp = api.get("/api/v1/docs").headers["content-security-policy"]
    rules = dict((part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in csp.split(";")))
    assert rules["script-src"] == "'self'"
    assert rules["default-src"] == "'none'"
    assert "http" not in csp and "unsafe" not in csp
    assert api.get("/api/v1/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404
    assert api.get("/api/v1/docs/assets/nothing.js").status_code == 404


def test_every_answer_says_nosniff(api, app):
    from fastapi.testclient import TestClient

    answers = [api.get("/api/v1/me"), api.get("/-/health"), api.get("/api/v1/prompts/999999"),
               api.get("/api/v1/prompts", params={"limit": 0}), api.get("/api/v1/openapi.json"),
               api.post("/api/v1/requests", content=b"x" * 1_000_001, headers={"Content-Type": "application/json"}),
               api.get("/ui/login"), api.get("/no-such-path"),
               TestClient(app).get("/api/v1/me")]  # no key: 401
    assert [a.status_code for a in answers] == [200, 200, 404, 422, 200, 413, 200, 404, 401]
    for answer in answers:
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.url


@pytest.mark.browser
@pytest.mark.one_database
def test_swagger_ui_renders_offline_without_csp_violations(browser, live):
    context = browser.new_context()
    page = context.new_page()
    outside: list[str] = []
    problems: list[str] = []
    # Nothing may leave this machine: any other host is refused (and recorded).
    page.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: (outside.append(route.request.url),
                                                                              route.abort()))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live.url + "/api/v1/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() > 20
    assert "Promptyard" in page.inner_text(".info")
    assert outside == [] and problems == [], (outside, problems)
    context.close()
