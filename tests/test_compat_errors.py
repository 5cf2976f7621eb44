"""PromptLayer quirks against a real server: what the SDK does on a bad key, an unknown template
and bad input (4xx in PromptLayer's shape, never a 500), and that a POST the SDK's transport
resends after a dropped connection is stored once."""

from __future__ import annotations

import logging
import socket
import threading
import uuid

import httpx
import pytest

from tests.support import ours, pl_publish, unique

promptlayer = pytest.importorskip("promptlayer")
from promptlayer import exceptions as plx  # noqa: E402


@pytest.fixture()
def bad_pl(pl, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("PROMPTLAYER_API_KEY", "pl_not_a_key_of_ours")
    return promptlayer.PromptLayer()


def test_bad_key_the_sdk_reacts_as_against_promptlayer(bad_pl, live, caplog):  # noqa: ANN001
    # the wrapper never raises: the LLM answer comes back, the log is lost with a warning
    with caplog.at_level(logging.WARNING, logger="promptlayer"):
        response, request_id = bad_pl.openai.OpenAI().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], return_pl_id=True)
    assert response.choices[0].message.content == "echo: hi" and request_id is None
    assert "invalid or revoked API key" in caplog.text
    with pytest.raises(plx.PromptLayerAuthenticationError, match="invalid or revoked API key"):
        bad_pl.templates.get("anything")
    with pytest.raises(plx.PromptLayerAuthenticationError):
        bad_pl.templates.all()
    with pytest.raises(plx.PromptLayerAPIError):  # track.* re-wrap typed errors into the generic class
        bad_pl.track.score(1, 50)
    with pytest.raises(plx.PromptLayerAPIError):
        bad_pl.log_request(provider="openai", model="m", input={"type": "chat", "messages": []},
                           output={"type": "chat", "messages": []}, request_start_time=1.0, request_end_time=2.0)
    # sync publish raises only on 400; our 401 body is handed back as PromptLayer's would be
    assert bad_pl.templates.publish({"prompt_name": "x", "prompt_template": {"type": "chat", "messages": []}}) == {
        "success": False, "message": "invalid or revoked API key"}


def test_unknown_template_is_not_found(pl, live, monkeypatch):  # noqa: ANN001
    with pytest.raises(plx.PromptLayerNotFoundError, match="no prompt named"):
        pl.templates.get(unique("missing"))
    name = unique("known")
    pl_publish(pl, name, "Hello.")
    with pytest.raises(plx.PromptLayerNotFoundError, match="no version 7"):
        pl.templates.get(name, {"version": 7})
    with pytest.raises(plx.PromptLayerNotFoundError, match="no label 'nope'"):
        pl.templates.get(name, {"label": "nope"})
    with pytest.raises(plx.PromptLayerNotFoundError):
        pl.run(prompt_name=unique("missing"))
    quiet = promptlayer.PromptLayer(throw_on_error=False)
    assert quiet.templates.get(unique("missing")) is None
    with pytest.raises(plx.PromptLayerNotFoundError):  # run() raises itself when get returned None
        quiet.run(prompt_name=unique("missing"))


def test_tracking_unknown_request_or_bad_values_raise_the_sdk_error(pl, live):  # noqa: ANN001
    with pytest.raises(plx.PromptLayerAPIError, match="no request with id"):
        pl.track.score(2_000_000_000, 10)
    with pytest.raises(plx.PromptLayerAPIError, match="no request with id"):
        pl.track.metadata(2_000_000_000, {"a": "b"})
    _, rid = pl.openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], return_pl_id=True)
    with pytest.raises(plx.PromptLayerAPIError, match="no prompt named"):
        pl.track.prompt(rid, unique("missing"), {})
    with pytest.raises(plx.PromptLayerAPIError, match="must be 1-100 letters"):
        pl.track.score(rid, 10, score_name="has spaces and ?")
    assert promptlayer.PromptLayer(throw_on_error=False).track.score(2_000_000_000, 10) is False
    with pytest.raises(plx.PromptLayerBadRequestError, match="only text blocks"):
        pl.templates.publish({"prompt_name": unique("img"), "commit_message": "c", "prompt_template": {
            "type": "chat", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}})


BAD_BODIES = [b"{not json", b"[1, 2]", b'"text"', b"{}", b'{"request_id": "abc"}', b'{"request_id": true}',
              b'{"request_id": 99999999999999999999}', b'{"request_id": 1, "score": 150}',
              b'{"request_id": 1, "metadata": {"k": {"nested": 1}}}', b'{"request_id": 1, "metadata": "x"}',
              b'{"prompt_template": "x", "prompt_version": []}', b'{"kwargs": [], "request_response": 5}',
              b'{"status": "MAYBE"}', b'{"request_start_time": "yesterday"}', b'{"input_variables": [1]}',
              b'{"version": -1}', b'{"label": 5}', b'{"group_id": "g"}', b'{"name": "", "parent_id": "x"}',
              b'{"prompt_template": {"prompt_name": "p"}, "release_labels": "prod", "prompt_version": '
              b'{"prompt_template": {"type": "chat", "messages": [{"role": "user", "content": "x"}]}}}',
              b'{"provider": "openai", "model": "m", "input": {"type": "chat", "messages": [7]}, "output": {}}']
PATHS = ["/track-request", "/log-request", "/library-track-prompt", "/library-track-metadata",
         "/library-track-score", "/track-group", "/rest/prompt-templates", "/prompt-templates/x",
         "/create-group", "/prompts/1/label", "/api/public/v2/folders", "/rest/track-score"]


def test_bad_bodies_get_a_4xx_in_promptlayer_shape_never_a_500(live):  # noqa: ANN001
    seen = set()
    with httpx.Client(base_url=live.url, headers={"X-API-KEY": live.api_key,
                                                  "Content-Type": "application/json"}) as client:
        for path in PATHS:
            for body in BAD_BODIES:
                r = client.post(path, content=body)
                assert r.status_code < 500, (path, body, r.text)
                if r.status_code >= 400:
                    assert r.json()["success"] is False and r.json()["message"], (path, body, r.text)
                    seen.add(r.status_code)
        assert client.post("/track-request", content=b"{not json").status_code == 400
        labels_as_text = client.post("/rest/prompt-templates", content=BAD_BODIES[-2])
        assert labels_as_text.status_code == 400 and "release_labels" in labels_as_text.json()["message"]
        assert client.get("/prompt-templates", params={"per_page": 0}).status_code == 400
        missing_key = httpx.post(live.url + "/library-track-score", json={"request_id": 1, "score": 5})
        assert missing_key.status_code == 401 and missing_key.json()["success"] is False
    assert seen <= {400, 401, 404, 409, 413, 422}


class DropOnceProxy:
    """Forwards HTTP/1.1 requests to `upstream`, but for the first `drop` requests closes the
    connection after the upstream has answered, without passing the answer on - what a load
    balancer that drops an idle keep-alive connection mid-request looks like to the client."""

    def __init__(self, upstream: str, drop: int = 1):
        self.upstream, self.drop, self.bodies = upstream, drop, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while True:
                head = reader.readline()
                if not head:
                    return
                method, path, _ = head.decode().split(" ", 2)
                headers = {}
                while (line := reader.readline().decode()).strip():
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = reader.read(int(headers.get("content-length", 0)))
                self.bodies.append((path, body))
                answer = httpx.request(method, self.upstream + path, content=body,
                                       headers={k: v for k, v in headers.items() if k in ("content-type", "x-api-key")})
                if self.drop > 0:
                    self.drop -= 1
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                out = answer.content
                conn.sendall(f"HTTP/1.1 {answer.status_code} OK\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(out)}\r\n\r\n".encode() + out)

    def close(self) -> None:
        self.sock.close()


def test_a_post_resent_by_the_sdk_transport_is_stored_once(pl, live, monkeypatch):  # noqa: ANN001
    proxy = DropOnceProxy(live.url)
    try:
        monkeypatch.setenv("PROMPTLAYER_BASE_URL", proxy.url)
        client = promptlayer.PromptLayer().openai.OpenAI()
        tag = f"dup-{uuid.uuid4().hex[:8]}"
        _, request_id = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "once"}], pl_tags=[tag], return_pl_id=True)
    finally:
        proxy.close()
    sent = [body for path, body in proxy.bodies if path == "/track-request"]
    assert len(sent) == 2 and sent[0] == sent[1]  # the SDK really sent it twice
    found = ours(live, "POST", "/api/v1/requests/search", json={"filter": f'tag = "{tag}"'})["items"]
    assert [item["number"] for item in found] == [request_id]


def test_the_same_log_request_twice_is_one_row_but_distinct_calls_are_not(pl, live):  # noqa: ANN001
    body = {"provider": "openai", "model": "gpt-4o", "input": {"type": "chat", "messages": []},
            "output": {"type": "chat", "messages": []}, "request_start_time": 1_764_000_000.123456,
            "request_end_time": 1_764_000_000.5, "tags": [f"twice-{uuid.uuid4().hex[:8]}"]}
    headers = {"X-API-KEY": live.api_key}
    first = httpx.post(live.url + "/log-request", json=body, headers=headers)
    again = httpx.post(live.url + "/log-request", json=body, headers=headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    later = httpx.post(live.url + "/log-request", json=body | {"request_end_time": 1_764_000_000.6}, headers=headers)
    assert later.json()["id"] != first.json()["id"]
