"""The erasure and retention pages on SQLite and PostgreSQL, without JavaScript: delete one log from
its page (confirmation first), erase the list's matches or one end user's logs (preview count ->
confirm -> result; a stale count is refused), the retention period and a purge now; owners and
admins only; English and Japanese."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

from promptyard.services import request_ingest, request_reads
from promptyard.store.types import utcnow
from tests.erasure_support import events, ids_in, log


def _store(database, principal, *logs):  # noqa: ANN001
    with database.write() as s:
        assert not request_ingest.ingest(s, principal, list(logs), max_batch=100)["errors"]


def _confirm_form(page: str) -> dict[str, str]:
    """The hidden fields of the page's confirm form (the POST one), unescaped."""
    form = re.search(r'<form method="post" action="/ui/privacy/erase">(.*?)</form>', page, re.S).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)}


def _number(database, principal, ref):  # noqa: ANN001, ANN202
    with database.read() as s:
        return request_reads.find(s, principal, ref)


def test_delete_one_log_from_its_page(ui, database, principal):
    admin = ui("admin")
    one, other = log(), log()
    _store(database, principal, one, other)
    number = _number(database, principal, one["id"])
    page = admin.get(f"/ui/requests/{number}")
    assert page.status_code == 200 and 'id="erase-request"' in page.text
    confirm = admin.get(f"/ui/requests/{number}/erase")
    assert confirm.status_code == 200 and one["id"] in confirm.text and 'id="erase-confirm"' in confirm.text
    assert ids_in(database, principal) == {one["id"], other["id"]}  # the confirmation page deletes nothing
    no_token = admin.post(f"/ui/requests/{number}/erase", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    done = admin.post(f"/ui/requests/{number}/erase", data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert done.status_code == 303 and "notice=request_erased" in done.headers["location"]
    assert ids_in(database, principal) == {other["id"]}
    assert "The log was deleted." in admin.get(done.headers["location"]).text
    assert admin.get(f"/ui/requests/{number}").status_code == 404
    (event,) = events(database, principal, "request.erase")
    assert event.actor == admin.email


def test_editors_see_no_delete_and_are_refused(ui, database, principal):
    editor = ui("editor")
    one = log()
    _store(database, principal, one)
    number = _number(database, principal, one["id"])
    assert 'id="erase-request"' not in editor.get(f"/ui/requests/{number}").text
    assert 'id="erase-matching"' not in editor.get("/ui/requests").text
    assert editor.get(f"/ui/requests/{number}/erase").status_code == 403
    assert editor.post(f"/ui/requests/{number}/erase", data={"csrf_token": editor.csrf}).status_code == 403
    assert editor.get("/ui/privacy/erase").status_code == 403
    assert editor.get("/ui/privacy/retention").status_code == 403
    assert editor.post("/ui/privacy/retention", data={"csrf_token": editor.csrf, "days": "3",
                                                      "reason": "x"}).status_code == 403
    assert ids_in(database, principal) == {one["id"]}


def test_erase_the_lists_matches_preview_confirm_result(ui, database, principal):
    admin = ui("admin")
    old = [log(model="old-model") for _ in range(3)]
    _store(database, principal, *old, log())
    listing = admin.get("/ui/requests", params={"q": 'model = "old-model"'})
    link = re.search(r'id="erase-matching" href="([^"]+)"', listing.text).group(1).replace("&amp;", "&")
    preview = admin.get(link)
    assert preview.status_code == 200 and "matches 3 logs" in preview.text, preview.text
    fields = _confirm_form(preview.text)
    assert fields["expected"] == "3" and fields["mode"] == "filter"
    _store(database, principal, log(model="old-model"))  # one more arrives before the confirmation
    stale = admin.post("/ui/privacy/erase", data=fields)
    assert stale.status_code == 409 and "matches 4 logs" in stale.text
    assert len(ids_in(database, principal)) == 5
    fields = _confirm_form(stale.text)
    done = admin.post("/ui/privacy/erase", data=fields)
    assert done.status_code == 200 and "4 logs erased." in done.text
    assert len(ids_in(database, principal)) == 1
    (event,) = events(database, principal, "requests.erase_filter")
    assert event.details["count"] == 4 and event.actor == admin.email
    bad = admin.get("/ui/privacy/erase", params={"mode": "filter", "q": "model ="})
    assert bad.status_code == 422 and 'id="form-error"' in bad.text
    assert admin.post("/ui/privacy/erase", data={"mode": "filter", "q": "", "expected": "0"}).status_code == 403


def test_erase_one_end_user_in_japanese(ui, database, principal):
    admin = ui("admin", lang="ja")
    value = "P-" + uuid.uuid4().hex[:6]
    _store(database, principal, *[log(metadata={"patient_id": value}) for _ in range(2)], log())
    form = admin.get("/ui/privacy/erase")
    assert form.status_code == 200 and 'id="erase-user-form"' in form.text and "エンドユーザー" in form.text
    preview = admin.get("/ui/privacy/erase", params={"mode": "user", "key": "patient_id", "value": value})
    assert "この値のログは 2 件" in preview.text
    done = admin.post("/ui/privacy/erase", data={"csrf_token": admin.csrf, "mode": "user", "key": "patient_id",
                                                 "value": value, "expected": "2"})
    assert done.status_code == 200 and "2 件のログを消去しました" in done.text
    assert len(ids_in(database, principal)) == 1
    (event,) = events(database, principal, "requests.erase_user")
    assert value not in str(event.details)


def test_retention_page_sets_the_period_and_purges_now(ui, database, principal):
    admin = ui("owner")
    aged = log(start_time=(utcnow() - timedelta(days=45)).isoformat())
    _store(database, principal, aged, log())
    page = admin.get("/ui/privacy/retention")
    assert page.status_code == 200 and "No retention period" in page.text
    missing = admin.post("/ui/privacy/retention", data={"csrf_token": admin.csrf, "days": "30", "reason": ""})
    assert missing.status_code == 422 and 'id="form-error"' in missing.text
    for days in ("0", "abc", ""):
        bad = admin.post("/ui/privacy/retention", data={"csrf_token": admin.csrf, "days": days, "reason": "x"})
        assert bad.status_code == 422, days
    saved = admin.post("/ui/privacy/retention", data={"csrf_token": admin.csrf, "days": "30", "reason": "policy"},
                       follow_redirects=False)
    assert saved.status_code == 303
    page = admin.get(saved.headers["location"])
    assert "kept 30 days" in page.text and "1 logs are past the period" in page.text and 'id="purge-now"' in page.text
    purged = admin.post("/ui/privacy/purge", data={"csrf_token": admin.csrf})
    assert purged.status_code == 200 and "1 logs purged." in purged.text
    assert len(ids_in(database, principal)) == 1
    forever = admin.post("/ui/privacy/retention", data={"csrf_token": admin.csrf, "keep": "forever", "days": "",
                                                        "reason": "legal hold"})
    assert forever.status_code == 200 and "No retention period" in forever.text
    assert [e.details["to"] for e in events(database, principal, "retention.set")] == [None, 30]
