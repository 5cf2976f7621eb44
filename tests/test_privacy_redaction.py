"""Issue 13, redaction before storage: the policy (domain/redaction_policy.py), its administration
(services/redaction.py, /api/v1/privacy/redaction, /ui/privacy) and every ingest path, on both databases,
proved by reading the raw rows of every table: the originals never reach the database."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from sqlalchemy import text

from promptyard.domain import redaction_policy as rp
from promptyard.store.models import Base
from tests.conftest import make_key
from tests.erasure_support import in_files, sqlite_files
from tests.support import publish

PHONE = "090-4821-7736"
PHONE_WIDE = "０９０－４８２１－７７３６"
MY_NUMBER = "3141 5926 5352"
NAME = "綾小路紫苑"
EMAIL = "shion.ayanokoji@example.jp"
TERM_NAME = "蒼井ミドリ"  # no honorific, no label: only the term list finds it
ORIGINALS = ("4821-7736", "48217736", "４８２１", "5926 5352", "59265352", "綾小路", "紫苑", "ayanokoji")  # long: no uuid holds them
CLINICAL = "ロキソプロフェン60mgを1日3回、食後に服用。第3条に従い、2026年4月1日処方。電話で確認済み。"


def sensitive(i: int = 0) -> str:
    return f"{NAME}様 ({i}) の連絡先は {PHONE}、{PHONE_WIDE}、マイナンバー {MY_NUMBER}、{EMAIL}。"


def stored_text(database, workspace_id: int) -> str:  # noqa: ANN001
    """Every row of every table of one workspace, as text (the database is shared by many tests)."""
    out = []
    with database.read() as s:
        for table in Base.metadata.sorted_tables:
            column = "id" if table.name == "workspaces" else "workspace_id"
            if column not in table.c:
                continue
            rows = s.execute(text(f'SELECT * FROM "{table.name}" WHERE {column} = :ws'), {"ws": workspace_id})
            out += [json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows]
    return "\n".join(out)


def assert_nothing_stored(database, workspace_id: int, extra: tuple[str, ...] = ()) -> None:  # noqa: ANN001
    raw = stored_text(database, workspace_id)
    leaked = [o for o in (*ORIGINALS, *extra) if o in raw]
    assert not leaked, leaked


# --- the policy, pure ---------------------------------------------------------------------------------------

def test_default_policy_redacts_with_typed_placeholders_and_keeps_clinical_text():
    red = rp.Redactor(rp.parse(None))
    out = red.text(f"{NAME}様、{PHONE} にお電話ください。{CLINICAL}")
    assert out == f"[氏名]様、[電話番号] にお電話ください。{CLINICAL}"
    assert red.take() == {"person_name": 1, "phone": 1}
    assert red.take() == {}


def test_operators_mask_hash_drop():
    key = b"k" * 32
    policy = rp.parse({"detectors": {"phone": {"operator": "mask"}, "email": {"operator": "drop"},
                                     "person_name": {"operator": "hash"}, "my_number": {"operator": "hash"}}})
    red = rp.Redactor(policy, key)
    assert red.text(f"TEL {PHONE} / {EMAIL}.") == "TEL ***-****-**** / ."
    one, two = red.text(f"マイナンバー {MY_NUMBER}"), red.text("マイナンバー ３１４１５９２６５３５２")
    assert one == two and one.startswith("マイナンバー [マイナンバー:") and "5926" not in one  # same value, same hash
    assert red.text(f"{NAME}様") != red.text("西園寺様")
    other_key = rp.Redactor(policy, b"x" * 32)
    assert other_key.text(f"マイナンバー {MY_NUMBER}") != one  # keyed: another workspace's hashes differ
    with pytest.raises(rp.PolicyError):
        rp.Redactor(policy)  # the hash operator needs a key


def test_detectors_can_be_turned_off_and_given_placeholders():
    red = rp.Redactor(rp.parse({"detectors": {"phone": {"on": False}, "email": {"placeholder": "<mail>"}}}))
    assert red.text(f"{PHONE} {EMAIL}") == f"{PHONE} <mail>"


def test_term_list_matches_normalised_forms_with_and_without_spaces():
    key = b"t" * 32
    terms = rp.Terms.of(e for name in ("蒼井 ミドリ", "Yamada Ken") for e in rp.term_entries(key, name))
    red = rp.Redactor(rp.parse(None), key, terms)
    assert red.text("担当の蒼井ミドリと蒼井 ミドリ、ｙａｍａｄａ ｋｅｎ、YAMADA KEN。") == "担当の[氏名]と[氏名]、[氏名]、[氏名]。"
    assert red.take() == {"term": 4}
    assert rp.Redactor(rp.parse(None), b"other" * 8, terms).text("蒼井ミドリ") == "蒼井ミドリ"  # keyed
    with pytest.raises(rp.PolicyError):
        rp.term_entries(key, "蒼")  # one character would redact every occurrence of it


def test_custom_patterns_are_validated_and_fail_closed():
    policy = rp.parse({"custom": [{"name": "patient_id", "pattern": r"PT-\d{6}"}]})
    red = rp.Redactor(policy)
    assert red.text("患者ID ＰＴ－１２３４５６ の件") == "患者ID [patient_id] の件"  # matched on the normalised text
    assert red.take() == {"custom:patient_id": 1}
    for bad, why in (({"name": "x", "pattern": "(a+)+$"}, "too slow"), ({"name": "x", "pattern": "a*"}, "empty"),
                     ({"name": "x", "pattern": "("}, "not a valid"), ({"name": "X Y", "pattern": "a"}, "name"),
                     ({"name": "x", "pattern": "a" * 501}, "1-500")):
        with pytest.raises(rp.PolicyError, match=why):
            rp.parse({"custom": [bad]})
    slow = rp.Policy(custom=(rp.Custom("slow", r"(\w+\s?)+$", rp.Rule()),))  # as if saved before a check existed
    assert rp.Redactor(slow).text("a " * 5000 + "!") == "[slow]"  # out of time: the whole string goes


@pytest.mark.parametrize("bad, field", [({"enabled": "yes"}, "enabled"), ({"detectors": {"iris": {}}}, "unknown kind"),
                                        ({"detectors": {"phone": {"operator": "encrypt"}}}, "operator"),
                                        ({"detectors": {"phone": {"placeholder": "090-1234-5678"}}}, "placeholder"),
                                        ({"colour": 1}, "unknown field")])
def test_bad_policies_are_refused_with_the_field(bad, field):
    with pytest.raises(rp.PolicyError, match=field):
        rp.parse(bad)


# --- every ingest path, raw rows read back --------------------------------------------------------------------

def test_api_ingest_annotate_pending_and_relink_store_no_original(api, database):  # noqa: ANN001
    name = f"p-{uuid.uuid4().hex[:6]}"
    publish(api, name, "{question}", role="user", commit="v1", labels=["production"])
    cid, later = str(uuid.uuid4()), str(uuid.uuid4())
    log = {"id": cid, "input": {"messages": [{"role": "user", "content": sensitive(1)}]},
           "output": {"choices": [{"message": {"role": "assistant", "content": f"{CLINICAL} {NAME}様へ"}}]},
           "status": "error", "error": {"type": "Boom", "message": f"failed for {PHONE}"},
           "metadata": {"patient_phone": PHONE, "env": "prod"}, "tags": [f"caller {NAME}様", "pharmacy"],
           "scores": [{"name": "helpful", "value": 80, "comment": f"{NAME}様 ok"}],
           "prompt": {"name": name, "label": "production", "variables": {"question": sensitive(2)}}}
    r = api.post("/api/v1/requests", json={"requests": [log]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    # Annotations: on the stored log, and on one not yet arrived (kept pending, then applied).
    assert api.post(f"/api/v1/requests/{cid}/metadata", json={"note": sensitive(3)}).status_code == 200
    assert api.post(f"/api/v1/requests/{cid}/tags", json={"add": [PHONE]}).status_code == 200
    assert api.post(f"/api/v1/requests/{cid}/scores", json={"name": "q", "value": 1, "comment": sensitive(4)}
                    ).status_code == 200
    pending = api.post(f"/api/v1/requests/{later}/scores", json={"name": "q", "value": 2, "comment": sensitive(5)})
    assert pending.json()["pending"] is True
    assert_nothing_stored(database, api.principal.workspace_id)  # the pending update too
    assert api.post("/api/v1/requests", json={"id": later, "input": "x", "output": "y"}).status_code == 200
    assert_nothing_stored(database, api.principal.workspace_id)

    item = api.get(f"/api/v1/requests/{cid}").json()
    assert item["metadata"] == {"env": "prod", "patient_phone": "[電話番号]",
                                "note": "[氏名]様 (3) の連絡先は [電話番号]、[電話番号]、マイナンバー [マイナンバー]、[メールアドレス]。"}
    assert item["output"]["choices"][0]["message"]["content"] == f"{CLINICAL} [氏名]様へ"  # clinical text kept
    assert sorted(item["tags"]) == sorted(["caller [氏名]様", "pharmacy", "[電話番号]"])
    assert item["error"]["message"] == "failed for [電話番号]"
    assert item["input_variables"] == {"question": "[氏名]様 (2) の連絡先は [電話番号]、[電話番号]、マイナンバー [マイナンバー]、"
                                       "[メールアドレス]。"}
    counts = item["redacted"]
    assert counts["phone"] >= 6 and counts["my_number"] >= 3 and counts["email"] >= 3 and counts["person_name"] >= 6
    assert api.get(f"/api/v1/requests/{later}").json()["redacted"] == {"email": 1, "my_number": 1, "person_name": 1,
                                                                      "phone": 2}
    # Search finds the placeholder, never the original.
    found = api.get("/api/v1/requests", params={"filter": 'text ~ "[電話番号]"'}).json()["items"]
    assert cid in {i["id"] for i in found}
    assert not api.get("/api/v1/requests", params={"filter": 'text ~ "4821"'}).json()["items"]
    stats = api.get("/api/v1/requests/stats").json()["redacted"]
    assert stats["phone"]["requests"] == 2 and stats["phone"]["spans"] == counts["phone"] + 2
    filtered = api.get("/api/v1/requests/stats", params={"filter": f'id = "{later}"'}).json()["redacted"]
    assert filtered["phone"] == {"spans": 2, "requests": 1}


def test_promptlayer_track_prompt_variables_are_redacted(api, database):  # noqa: ANN001
    name = f"p-{uuid.uuid4().hex[:6]}"
    publish(api, name, "{question}", role="user", commit="v1", labels=["production"])
    headers = {"X-API-KEY": api.headers["Authorization"].removeprefix("Bearer ")}
    cid = str(uuid.uuid4())
    assert api.post("/api/v1/requests", json={"id": cid, "input": "q", "output": "a"}).status_code == 200
    number = api.get(f"/api/v1/requests/{cid}").json()["number"]
    r = api.post("/library-track-prompt", headers=headers, json={
        "request_id": number, "prompt_name": name, "version": 1, "prompt_input_variables": {"question": sensitive(6)}})
    assert r.status_code == 200, r.text
    assert_nothing_stored(database, api.principal.workspace_id)
    assert api.get(f"/api/v1/requests/{cid}").json()["redacted"]["phone"] == 2


def test_promptlayer_routes_store_no_original(api, database):  # noqa: ANN001
    headers = {"X-API-KEY": api.headers["Authorization"].removeprefix("Bearer ")}
    body = {"provider": "openai", "model": "gpt-4o-mini", "input": {"type": "chat", "messages": [
        {"role": "user", "content": [{"type": "text", "text": sensitive(7)}]}]},
            "output": {"type": "chat", "messages": [{"role": "assistant", "content": [{"type": "text",
                                                                                        "text": f"{NAME}様"}]}]},
            "request_start_time": "2026-12-01T00:00:00Z", "request_end_time": "2026-12-01T00:00:01Z",
            "tags": [PHONE], "metadata": {"caller": PHONE}}
    r = api.post("/log-request", json=body, headers=headers)
    assert r.status_code < 300, r.text
    rid = r.json()["id"]
    tracked = api.post("/track-request", headers=headers, json={
        "function_name": "openai.chat.completions.create", "provider_type": "openai",
        "kwargs": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": sensitive(8)}]},
        "request_response": {"choices": [{"message": {"role": "assistant", "content": EMAIL}}]},
        "request_start_time": 1764547200, "request_end_time": 1764547201, "tags": [], "metadata": {}})
    assert tracked.status_code < 300, tracked.text
    for path, extra in (("/library-track-metadata", {"metadata": {"who": sensitive(9)}}),
                        ("/library-track-score", {"score": 50, "score_name": "s"})):
        assert api.post(path, headers=headers, json={"request_id": rid, **extra}).status_code < 300
    assert_nothing_stored(database, api.principal.workspace_id)
    assert api.get(f"/api/v1/requests/{rid}").json()["redacted"]["phone"] >= 4


def test_ui_forms_store_no_original(ui, database):  # noqa: ANN001
    admin = ui("admin")
    api_key = make_key(database, admin.principal)
    cid = str(uuid.uuid4())
    assert admin.post("/api/v1/requests", json={"id": cid, "input": "q", "output": "a"},
                      headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    number = admin.get(f"/api/v1/requests/{cid}", headers={"Authorization": f"Bearer {api_key}"}).json()["number"]
    for path, form in ((f"/ui/requests/{number}/scores", {"name": "helpful", "value": "70", "comment": sensitive(10)}),
                       (f"/ui/requests/{number}/metadata", {"key": "note", "value": sensitive(11)})):
        r = admin.post(path, data={"csrf_token": admin.csrf, **form}, follow_redirects=False)
        assert r.status_code in (200, 303), (path, r.status_code, r.text[:500])
    assert_nothing_stored(database, admin.principal.workspace_id)
    page = admin.get(f"/ui/requests/{number}")
    assert "[電話番号]" in page.text and "4821" not in page.text
    assert 'id="redacted-counts"' in page.text and "電話番号" in admin.get(
        f"/ui/requests/{number}", headers={"Accept-Language": "ja"}).text


def test_nothing_reaches_the_server_log(api, caplog):  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    api.post("/api/v1/requests", json={"input": sensitive(12), "output": "x", "metadata": {"m": PHONE}})
    api.post("/api/v1/requests", json={"input": sensitive(13), "metadata": {"m": ["not", "a", "scalar"]}})  # refused
    api.post(f"/api/v1/requests/{uuid.uuid4()}/scores", json={"name": "s", "value": 1, "comment": sensitive(14)})
    api.post("/api/v1/privacy/redaction/preview", json={"text": sensitive(15)})
    leaked = [o for o in ORIGINALS if o in caplog.text]
    assert not leaked, leaked


# --- the policy, administered ------------------------------------------------------------------------------

def test_policy_changes_are_admin_only_audited_and_turning_off_needs_a_reason(api, database):  # noqa: ANN001
    got = api.get("/api/v1/privacy/redaction").json()
    assert got["enabled"] is True and got["default"] is True and got["detectors"]["phone"]["operator"] == "placeholder"
    editor = make_key(database, api.principal, scopes=("read", "write", "ingest"))
    r = api.patch("/api/v1/privacy/redaction", json={"enabled": False, "reason": "x"},
                  headers={"Authorization": f"Bearer {editor}"})
    assert r.status_code == 403
    r = api.patch("/api/v1/privacy/redaction", json={"enabled": False})
    assert r.status_code == 422 and "reason" in r.json()["error"]["message"]
    r = api.patch("/api/v1/privacy/redaction", json={"detectors": {"phone": {"operator": "hash"}}})
    assert r.status_code == 200 and r.json()["detectors"]["phone"]["operator"] == "hash"
    assert r.json()["detectors"]["email"]["on"] is True  # the rest kept
    cid = str(uuid.uuid4())
    api.post("/api/v1/requests", json={"id": cid, "input": f"TEL {PHONE}", "output": f"TEL {PHONE_WIDE}"})
    item = api.get(f"/api/v1/requests/{cid}").json()
    assert item["input"].startswith("TEL [電話番号:") and item["input"][4:] == item["output"][4:]  # grouped
    r = api.patch("/api/v1/privacy/redaction", json={"enabled": False, "reason": "test tenant with synthetic data"})
    assert r.status_code == 200 and r.json()["enabled"] is False
    cid = str(uuid.uuid4())
    api.post("/api/v1/requests", json={"id": cid, "input": PHONE, "output": ""})
    assert api.get(f"/api/v1/requests/{cid}").json()["input"] == PHONE  # off means off, as the admin chose
    events = api.get("/api/v1/audit").json()["items"]
    changes = [e for e in events if e["action"] == "privacy.redaction"]
    assert changes[0]["details"]["reason"] == "test tenant with synthetic data"
    assert changes[0]["details"]["before"]["enabled"] is True and changes[0]["details"]["after"]["enabled"] is False
    bad = api.patch("/api/v1/privacy/redaction", json={"custom": [{"name": "x", "pattern": "(a|aa)+$"}]})
    assert bad.status_code == 422 and "slow" in bad.json()["error"]["message"]


def test_term_list_is_kept_as_hashes_only(api, database):  # noqa: ANN001
    r = api.post("/api/v1/privacy/redaction/terms", json={"terms": [TERM_NAME, "西園寺 撫子"]})
    assert r.status_code == 200 and r.json()["terms"] == 3  # 西園寺 撫子 also without its space
    assert_nothing_stored(database, api.principal.workspace_id, extra=("西園寺", "撫子", "蒼井"))
    preview = api.post("/api/v1/privacy/redaction/preview", json={"text": f"{TERM_NAME}と西園寺撫子"}).json()
    assert preview == {"text": "[氏名]と[氏名]", "counts": {"term": 2}}
    cid = str(uuid.uuid4())
    api.post("/api/v1/requests", json={"id": cid, "input": f"担当 {TERM_NAME}", "output": ""})
    assert api.get(f"/api/v1/requests/{cid}").json()["input"] == "担当 [氏名]"
    assert api.post("/api/v1/privacy/redaction/terms", json={"terms": ["x"]}).status_code == 422
    r = api.post("/api/v1/privacy/redaction/terms/remove", json={"terms": [TERM_NAME]})
    assert r.json()["terms"] == 2
    assert api.post("/api/v1/privacy/redaction/terms/remove", json={"all": True}).json()["terms"] == 0
    actions = [e["action"] for e in api.get("/api/v1/audit").json()["items"]]
    assert actions.count("privacy.terms.remove") == 2 and "privacy.terms.add" in actions


def test_privacy_page_in_both_languages_and_forms(ui):  # noqa: ANN001
    admin = ui("admin", lang="ja")
    page = admin.get("/ui/privacy")
    assert page.status_code == 200 and "マスキング方針" in page.text and "電話番号" in page.text
    assert ui("editor").get("/ui/privacy").status_code == 403
    form = {"csrf_token": admin.csrf, "enabled": "on", "reason": ""}
    form |= {f"on_{k}": "on" for k in rp.RULE_KINDS} | {f"operator_{k}": "placeholder" for k in rp.RULE_KINDS}
    form["operator_phone"] = "mask"
    assert admin.post("/ui/privacy/policy", data=form, follow_redirects=False).status_code == 303
    del form["on_email"]
    refused = admin.post("/ui/privacy/policy", data=form)
    assert refused.status_code == 422 and 'id="form-error"' in refused.text
    r = admin.post("/ui/privacy/preview", data={"csrf_token": admin.csrf, "text": f"{PHONE} {NAME}様"})
    assert "***-****-****" in r.text and "[氏名]様" in r.text
    r = admin.post("/ui/privacy/terms", data={"csrf_token": admin.csrf, "terms": f"{TERM_NAME}\n"}, follow_redirects=True)
    assert "1 件" in r.text and TERM_NAME not in r.text
    r = admin.post("/ui/privacy/custom", data={"csrf_token": admin.csrf, "name": "pid", "pattern": r"PT-\d{6}",
                                               "operator": "placeholder", "placeholder": ""}, follow_redirects=True)
    assert r.status_code == 200 and "PT-\\d{6}" in r.text
    en = ui("admin").get("/ui/privacy").text
    assert "Redaction policy" in en and "Keyed hash" in en


def test_logs_stored_before_the_policy_are_redacted_by_db_redact(api, database):  # noqa: ANN001
    import subprocess
    import sys

    from sqlalchemy import select

    from promptyard.store.models import Workspace

    assert api.patch("/api/v1/privacy/redaction", json={"enabled": False, "reason": "as before the upgrade"}
                     ).status_code == 200
    cid, later = str(uuid.uuid4()), str(uuid.uuid4())
    canary = f"080-{uuid.uuid4().int % 9000 + 1000}-{uuid.uuid4().int % 9000 + 1000}"  # in no other test's rows
    api.post("/api/v1/requests", json={"id": cid, "input": {"messages": [{"role": "user", "content": sensitive(20)}]},
                                       "output": f"折り返し {canary}",
                                       "metadata": {"phone": PHONE}, "tags": [PHONE, "keep"],
                                       "scores": [{"name": "s", "value": 5, "comment": sensitive(21)}]})
    api.post(f"/api/v1/requests/{later}/metadata", json={"phone": PHONE})  # pending: its log is not here yet
    api.post("/api/v1/requests", json={"input": "nothing personal", "output": "ok"})
    assert PHONE in stored_text(database, api.principal.workspace_id)
    assert api.patch("/api/v1/privacy/redaction", json={"enabled": True}).status_code == 200
    with database.read() as s:
        name = s.scalar(select(Workspace.name).where(Workspace.id == api.principal.workspace_id))

    def run(*extra: str) -> str:
        done = subprocess.run([sys.executable, "-m", "promptyard.cli", "db", "redact", "--workspace", name,
                               "--database-url", database.url, *extra], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "1 of 2 logs would be redacted" in run("--dry-run")
    assert PHONE in stored_text(database, api.principal.workspace_id)
    assert "1 of 2 logs were redacted (email 2, my_number 2, person_name 2, phone 7)" in run()
    assert_nothing_stored(database, api.principal.workspace_id, extra=(canary,))
    if database.kind == "sqlite":  # nor in the file or its WAL: secure delete, then a checkpoint
        assert in_files(sqlite_files(database), canary.encode()) == []
    item = api.get(f"/api/v1/requests/{cid}").json()
    assert item["tags"] == ["[電話番号]", "keep"] and item["metadata"] == {"phone": "[電話番号]"}
    assert item["redacted"]["phone"] == 7
    assert api.get("/api/v1/requests", params={"filter": 'tag = "[電話番号]"'}).json()["items"][0]["id"] == cid
    api.post("/api/v1/requests", json={"id": later, "input": "x", "output": "y"})
    assert api.get(f"/api/v1/requests/{later}").json()["metadata"] == {"phone": "[電話番号]"}
    assert any(e["action"] == "privacy.redact_stored" for e in api.get("/api/v1/audit").json()["items"])
