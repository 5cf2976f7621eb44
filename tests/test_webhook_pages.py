"""The Webhooks admin pages: create (the secret shown once), send a test event to a real receiver, see
it in the delivery log, redeliver, pause, delete; English and Japanese."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.server.got.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(204)
        self.end_headers()

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


def test_an_admin_makes_tests_and_deletes_a_webhook(ui, receiver):
    client = ui("admin")
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    made = client.post("/ui/webhooks", data={"csrf_token": client.csrf, "url": url, "events": ["version.published"],
                                             "format": "json", "description": "git sync"})
    assert made.status_code == 200, made.text
    secret = re.search(r'id="new-secret-value" class="mono">(whsec_[^<]+)<', made.text).group(1)
    page_url = re.search(r'href="(/ui/webhooks/\d+)"', made.text).group(1)
    page = client.get(page_url)
    assert url in page.text and secret not in page.text and secret[-4:] in page.text
    tested = client.post(page_url + "/test", data={"csrf_token": client.csrf})
    assert tested.status_code == 200 and len(receiver.got) == 1
    assert "webhook.test" in tested.text and "204" in tested.text and "delivered" in tested.text
    redo = re.search(r'action="(/ui/webhooks/\d+/deliveries/\d+/redeliver)"', tested.text).group(1)
    assert client.post(redo, data={"csrf_token": client.csrf}).status_code == 200 and len(receiver.got) == 2
    paused = client.post(page_url, data={"csrf_token": client.csrf, "url": url, "events": ["*"], "format": "slack"})
    assert paused.status_code == 200 and "Paused" in paused.text
    gone = client.post(page_url + "/delete", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert gone.status_code == 303 and url not in client.get("/ui/webhooks").text


def test_refusals_in_japanese_and_admins_only(ui):
    client = ui("admin", lang="ja")
    refused = client.post("/ui/webhooks", data={"csrf_token": client.csrf, "url": "http://169.254.169.254/x",
                                                "format": "json"})
    assert refused.status_code == 422 and "メタデータ" in refused.text and "http://169.254.169.254/x" in refused.text
    assert "Webhook を追加" in client.get("/ui/webhooks").text
    assert ui("editor").get("/ui/webhooks").status_code == 403
