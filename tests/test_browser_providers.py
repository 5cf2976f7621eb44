"""Providers and webhooks in headless Chromium against a real `promptyard serve`: an admin adds a
provider connection (the key field is a write-only password field) and a webhook, sends it a test
event that a real receiver gets, and sees the delivery in the log; hostile text never runs."""

from __future__ import annotations

import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser import PAYLOADS, new_page

pytestmark = [pytest.mark.one_database, pytest.mark.browser]

SECRET = "sk-browser-" + "Kp4w" * 5 + "last"


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.server.got.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture()
def receiver():  # noqa: ANN201
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.got = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_admin_adds_a_provider_and_a_webhook_and_sends_a_test_event(browser, live, fake_llm, receiver, lang):  # noqa: ANN001
    page = new_page(browser, live, lang)
    page.click("nav.main a[href='/ui/providers']")
    name = f"openai-{lang}-{uuid.uuid4().hex[:4]}"
    page.fill("input[name=name]", name)
    page.fill("input[name=base_url]", fake_llm.openai_base_url)
    page.fill("input[name=default_model]", "gpt-4o-mini")
    page.fill("textarea[name=headers]", "X-Team: pharmacy")
    assert page.get_attribute("input[name=secret]", "type") == "password"
    page.fill("input[name=secret]", SECRET)
    page.click("form[action='/ui/providers'] button.primary")
    page.wait_for_url(re.compile(r".*/ui/providers/\d+\?notice=provider_saved$"))
    assert "…" + SECRET[-4:] in page.inner_text("#secret-state") and SECRET not in page.content()
    assert page.input_value("input[name=secret]") == ""  # never filled back in

    page.click("nav.main a[href='/ui/webhooks']")
    page.fill("input[name=url]", f"http://127.0.0.1:{receiver.server_address[1]}/hook")
    page.fill("input[name=description]", PAYLOADS[1])
    page.click("form[action='/ui/webhooks'] button.primary")
    secret = page.inner_text("#new-secret-value")
    assert secret.startswith("whsec_")
    page.click("#new-secret a")
    assert secret not in page.content()
    page.click("#send-test")
    page.wait_for_selector("#deliveries td.mono")
    assert "webhook.test" in page.inner_text("#deliveries") and "200" in page.inner_text("#deliveries")
    assert len(receiver.got) == 1
    assert page.evaluate("window.__xss") is None and page.dialogs == []
    page.context.close()
