"""Issue 16, datasets from the command line and the SDK against a real `promptyard serve`: upload and
export round trip with Japanese text (CSV with BOM and JSONL), a bad row's line and column on
standard error, from-filter, and `client.datasets` (create, add_items, list, items)."""

from __future__ import annotations

import json

from promptyard import Promptyard, errors
from tests.support import cli, unique

ROWS = [{"input": {"question": "授乳中でも飲めますか?", "patient": "30代女性"}, "expected": "医師に相談してください。",
         "metadata": {"source": "薬局"}},
        {"input": {"question": "「食後」とはいつですか?\n改行あり", "patient": "高齢者"}, "expected": None,
         "metadata": {"source": "電話"}}]


def test_upload_export_round_trip_with_japanese_text(live, tmp_path):  # noqa: ANN001
    env, name = live.client_env, unique("回帰セット")
    src = tmp_path / "質問.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    done = cli("datasets", "upload", name, str(src), "--create", "-m", "最初の版", env=env)
    assert done.returncode == 0, done.stderr
    assert f"{name}: version 1, 2 items" in done.stdout and done.stderr == ""  # piped: no progress bar

    out = tmp_path / "out.jsonl"
    assert cli("datasets", "export", name, "-o", str(out), env=env).returncode == 0
    back = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [{k: b[k] for k in ("input", "expected", "metadata")} for b in back] == ROWS

    excel = tmp_path / "excel.csv"
    assert cli("datasets", "export", name, "--format", "csv", "--bom", "-o", str(excel), env=env).returncode == 0
    assert excel.read_bytes().startswith(b"\xef\xbb\xbfpatient,question,expected,metadata.source")
    again = cli("datasets", "upload", name, str(excel), "-m", "CSV から", env=env)  # the CSV uploads as it was
    assert again.returncode == 0, again.stderr
    assert f"{name}: version 2, 4 items" in again.stdout
    second = tmp_path / "v2.jsonl"
    assert cli("datasets", "export", name, "--version", "2", "-o", str(second), env=env).returncode == 0
    rows = [json.loads(line) for line in second.read_text(encoding="utf-8").splitlines()]
    assert [r["input"] for r in rows[2:]] == [r["input"] for r in ROWS]
    assert [r["expected"] for r in rows[2:]] == [r["expected"] for r in ROWS]

    listed = cli("datasets", "list", env=env)
    assert f"{name}\tv2\t4 items" in listed.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("question,expected\n良い,はい\n悪い,はい,余分\n", encoding="utf-8")
    refused = cli("datasets", "upload", name, str(bad), env=env)
    assert refused.returncode == 1 and "Line 3, column 3" in refused.stderr, refused.stderr
    assert "v2\t4 items" in cli("datasets", "list", env=env).stdout  # nothing stored
    missing = cli("datasets", "export", unique("ない"), env=env)
    assert missing.returncode == 1 and "--create" in missing.stderr


def test_from_filter_command_and_the_sdk(live):  # noqa: ANN001
    env, mark = live.client_env, unique("cli")
    logs = [{"model": "m", "metadata": {"batch": mark}, "prompt": {"name": "服薬指導", "variables": {"q": f"質問{i}"}},
             "output": {"text": f"回答{i}"}} for i in range(3)]
    assert live.http.post("/api/v1/requests", json={"requests": logs}).json()["accepted"] == 3
    name = unique("ログから")
    done = cli("datasets", "from-filter", name, "--create", "--filter", f'metadata.batch = "{mark}"', env=env)
    assert done.returncode == 0 and f"{name}: version 1, 3 items" in done.stdout, done.stderr

    with Promptyard(live.url, live.api_key) as py:
        items = list(py.datasets.items(name, page_size=2))
        assert sorted(i["input"]["q"] for i in items) == ["質問0", "質問1", "質問2"]
        assert all(i["source_request"] for i in items)
        made = py.datasets.create(unique("SDK"), description="手入力", items=[{"input": {"q": "一つ目"}}], message="v1")
        assert made["version"]["number"] == 1
        v2 = py.datasets.add_items(made["id"], [{"input": [{"role": "user", "content": "二つ目"}], "expected": "はい"}])
        assert (v2["number"], v2["item_count"]) == (2, 2)
        assert [i["expected"] for i in py.datasets.items(made["id"])] == [None, "はい"]
        assert [i["expected"] for i in py.datasets.items(made["id"], version=1)] == [None]
        assert made["name"] in [d["name"] for d in py.datasets.list()]
        try:
            py.datasets.add_items(made["id"], [{"input": "not an object"}])
        except errors.InvalidInput as exc:
            assert "input" in str(exc)
        else:
            raise AssertionError("a bad item was accepted")
