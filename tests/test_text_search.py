"""Text search from the index (store/text_search.py) gives exactly the substring scan's answer under
the documented normalisation (domain/text_tokens.py), on SQLite and PostgreSQL, and the index follows
every write path: ingest, redaction of stored logs, erasure, and migration 0008 for stored logs."""

from __future__ import annotations

import random
import unicodedata
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from promptyard.domain import text_tokens as tt
from promptyard.domain.logs import text_of
from promptyard.domain.query import Cond, Or, parse
from promptyard.errors import InvalidInput
from promptyard.services import erasure, keys, redaction, request_ingest, request_reads
from promptyard.store import query_plan
from promptyard.store.db import Database
from promptyard.store.migrate import downgrade, upgrade
from promptyard.store.models import Request
from promptyard.store.types import utcnow
from tests.support import upgraded

# A small alphabet, so that 1- and 2-character words match often: kanji, kana (half-width ones
# too), Latin in both cases and full width, digits, an emoji, a combining mark, spaces.
ALPHABET = list("用量薬服剤日回錠") + list("のはをすまにです") + list("ｶﾞｷｬ") + list("aAbBkK") + \
    list("ＡＢｋ") + list("12１２") + ["😀", "\u0301", "ß", "İ"] + [" ", " ", "\u3000", "。", "\n"]


def _text(rng: random.Random, ascii_only: bool) -> str:
    letters = list("abcABC xyz") if ascii_only else ALPHABET
    return "".join(rng.choice(letters) for _ in range(rng.randint(0, 30)))


def _corpus(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(_text(rng, i % 4 == 0), _text(rng, i % 4 == 0)) for i in range(n)]


def _queries(corpus: list[tuple[str, str]], seed: int) -> list[str]:
    rng = random.Random(seed)
    found: list[str] = ["", "用量", "用 量", "薬", "ガ", "ｶﾞ", "A", "ab", "ＡＢ", "SS", "😀", " ", "ii̇"]
    for _ in range(120):
        text = rng.choice([t for pair in corpus for t in pair if t])
        size = rng.choice([1, 1, 2, 2, 2, 3, 5])
        start = rng.randrange(len(text))
        piece = text[start:start + size]
        found.append(rng.choice([piece, piece.upper(), piece.lower(), unicodedata.normalize("NFKC", piece)]))
    found += ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 3))) for _ in range(40)]
    return found


def _ingest(database, p, pairs: list[tuple[str, str]]) -> list[str]:  # noqa: ANN001
    logs = [{"id": str(uuid.uuid4()), "input": {"messages": [{"role": "user", "content": i}]},
             "output": {"text": o}, "start_time": utcnow().isoformat()} for i, o in pairs]
    with database.write() as s:
        result = request_ingest.ingest(s, p, logs, max_batch=100_000)
    assert not result["errors"], result["errors"][:3]
    return [log["id"] for log in logs]


def _found(database, p, node) -> set[str]:  # noqa: ANN001
    with database.read() as s:
        return {item["id"] for item in request_reads.browse(s, p, node=node, limit=100_000)["items"]}


def _expected(ids: list[str], pairs: list[tuple[str, str]], field: str, q: str) -> set[str]:
    out = set()
    for cid, (inp, outp) in zip(ids, pairs):
        texts = {"text": (inp, outp), "input": (inp,), "output": (outp,)}[field]
        if any(tt.matches(q, t) for t in texts):
            out.add(cid)
    return out


def test_index_equals_the_substring_scan_on_a_generated_corpus(database, principal):
    pairs = _corpus(15, 400)
    ids = _ingest(database, principal, pairs)
    queries = _queries(pairs, 16)
    nonempty = 0
    for q in queries:
        for field in ("text", "input", "output"):
            want = _expected(ids, pairs, field, q)
            assert _found(database, principal, Cond(field, None, "~", q)) == want, (field, q)
            nonempty += bool(want) and len(want) < len(ids)
    assert nonempty > 100  # the queries tell logs apart (the test can fail)


def test_agrees_with_the_old_like_scan_on_ascii(database, principal):
    """Where case folding cannot differ (ASCII text and queries), the index answers what
    `lower(col) LIKE '%q%'` answered before it."""
    pairs = [p for p in _corpus(17, 200) if all(t.isascii() for t in p)]
    ids = _ingest(database, principal, pairs)
    probe = sa.Table(f"like_probe_{uuid.uuid4().hex[:8]}", sa.MetaData(), sa.Column("cid", sa.String(64)),
                     sa.Column("txt", sa.Text))
    with database.write() as s:
        probe.create(s.connection())
        s.execute(probe.insert(), [{"cid": c, "txt": text_of({"messages": [{"role": "user", "content": i}]})}
                                   for c, (i, _) in zip(ids, pairs)])
    try:
        for q in [q for q in _queries(pairs, 18) if q.isascii()]:
            with database.read() as s:
                old = set(s.scalars(select(probe.c.cid).where(probe.c.txt.icontains(q, autoescape=True))))
            assert _found(database, principal, Cond("input", None, "~", q)) == old, q
    finally:
        with database.write() as s:
            probe.drop(s.connection())


def test_phrases_normalisation_and_the_grammar(database, principal):
    texts = ["用量は1日2回", "用 量", "量用", "ＡＰＩキー", "ｶﾞｲﾄﾞ", "STRASSE", "100% 完了_です"]
    ids = dict(zip(texts, _ingest(database, principal, [(t, "") for t in texts])))
    cases = {'text ~ "用量"': {"用量は1日2回"}, 'text ~ "量"': {"用量は1日2回", "用 量", "量用"},
             'input ~ "api"': {"ＡＰＩキー"}, 'text ~ "ガイド"': {"ｶﾞｲﾄﾞ"}, 'text ~ "straße"': {"STRASSE"},
             'text ~ "%"': {"100% 完了_です"}, 'text ~ "_"': {"100% 完了_です"}, 'output ~ "用"': set(),
             'text ~ "用量" and text ~ "2回"': {"用量は1日2回"}, 'not text ~ "用"': {"ＡＰＩキー", "ｶﾞｲﾄﾞ", "STRASSE",
                                                                              "100% 完了_です"}}
    for filt, want in cases.items():
        assert _found(database, principal, parse(filt)) == {ids[t] for t in want}, filt
    either = Or((Cond("text", None, "~", "ガイ"), Cond("input", None, "~", "STRA")))
    assert _found(database, principal, either) == {ids["ｶﾞｲﾄﾞ"], ids["STRASSE"]}


def test_every_plan_narrows_the_index_superset(database, principal):
    """Where SQLite's index gives a superset (every gram there, the query not, or in the other field),
    the walk, the text set driving and the count all answer the definition."""
    texts = [("用法と用量", "と用法"), ("と用法です", ""), ("用法", "と用"), ("", "")]
    ids = _ingest(database, principal, texts)
    for filt, want in {'input ~ "と用法"': {ids[1]}, 'output ~ "と用法"': {ids[0]}, 'text ~ "と用法"': {ids[0], ids[1]},
                       'input ~ "と用" AND output ~ "用"': {ids[0]}}.items():
        node = parse(filt)
        with database.read() as s:
            for plan in ("walk", 0):
                found = request_reads.browse(s, principal, node=node, limit=50, count=True, plan=plan)
                assert {i["id"] for i in found["items"]} == want, (filt, plan)
                assert found["matching"]["count"] == len(want), (filt, plan)


def test_long_texts_match_across_postgresql_chunks(database, principal):
    """A text longer than a tsvector's positions holds (16,383) is indexed in overlapping chunks: a
    match anywhere, also one across a chunk boundary and the longest query allowed, is found."""
    rng = random.Random(3)
    body = "".join(rng.choice("あいうえおかきくけこ") for _ in range(40_000))
    long_q = body[tt.STEP * 2 - 10: tt.STEP * 2 - 10 + tt.MAX_QUERY]
    ids = _ingest(database, principal, [(body, ""), ("", "")])
    for start in (0, tt.STEP - 1, tt.CHUNK - 3, tt.STEP * 2 + 5, 40_000 - 7):
        q = body[start:start + 6]
        assert ids[0] in _found(database, principal, Cond("text", None, "~", q)), start
    assert _found(database, principal, Cond("input", None, "~", long_q)) == {ids[0]}
    with pytest.raises(InvalidInput):
        _found(database, principal, Cond("input", None, "~", long_q + "あ"))


def test_redacting_stored_logs_updates_the_index(database, principal):
    with database.write() as s:
        redaction.set_policy(s, principal, {"enabled": False}, reason="test")
    ids = _ingest(database, principal, [("電話は090-1234-5678です", "了解"), ("別件", "")])
    with database.write() as s:
        redaction.set_policy(s, principal, {"enabled": True}, reason="test")
        redaction.redact_stored(s, principal)
    assert _found(database, principal, Cond("input", None, "~", "5678")) == set()
    with database.read() as s:
        stored = s.scalar(select(Request.input).where(Request.client_id == ids[0]))
    marker = text_of(stored).replace("電話は", "")[:4]
    assert marker and "5678" not in text_of(stored)
    assert _found(database, principal, Cond("input", None, "~", marker)) == {ids[0]}


def test_erased_logs_leave_the_index(database, principal):
    """Erased rows go from the index too: on SQLite a new log may take the erased one's id (the
    rowid of the newest row is reused), and must not be found by the erased text."""
    ids = _ingest(database, principal, [("消える文章", ""), ("残る文章", "")])
    erasure.erase_one(database, principal, ids[1])
    erasure.erase_one(database, principal, ids[0])
    assert _found(database, principal, Cond("text", None, "~", "文章")) == set()
    new = _ingest(database, principal, [("新しい", ""), ("別の", "")])
    assert _found(database, principal, Cond("text", None, "~", "消える")) == set()
    assert _found(database, principal, Cond("text", None, "~", "しい")) == {new[0]}


def test_migration_0008_indexes_stored_logs(empty_url):  # noqa: ANN001
    db = Database(empty_url)
    try:
        upgrade(db.engine, "0007")
        with db.write() as s:
            ws, _ = keys.ensure_workspace(s, "m")
            now = utcnow()
            s.execute(sa.text("INSERT INTO requests (workspace_id, client_id, received_at, start_time, input, output, "
                              "parameters, input_text, output_text, status, tags, source) VALUES (:ws, :c, :t, :t, "
                              ":i, :o, '{}', '', '', 'ok', '[]', 'api')"),
                      [{"ws": ws, "c": f"c{n}", "t": now, "i": f'{{"messages": [{{"content": "{i}"}}]}}',
                        "o": f'{{"text": "{o}"}}'} for n, (i, o) in enumerate([("服薬の用量", "はい"), ("別件", "用量")])])
        upgrade(db.engine)
        p = keys.system_principal(ws)
        assert _found(db, p, Cond("input", None, "~", "用量")) == {"c0"}
        assert _found(db, p, Cond("text", None, "~", "用量")) == {"c0", "c1"}
    finally:
        db.dispose()


def test_migration_0010_writes_the_words_and_the_json_anew_and_back(empty_url):  # noqa: ANN001
    """SQLite: 0010 rewrites an index of 0008's hex words in today's words and packs the JSON again
    with the dictionary; downgrade writes both back as 0008 did. Every log reads the same."""
    db, p = upgraded(empty_url)
    try:
        long = "服薬の用量について、ご確認ください。" * 10
        ids = _ingest(db, p, [(long, "はい"), ("別件", "用量")])
        downgrade(db.engine, "0008")
        if db.kind == "sqlite":
            with db.read() as s:
                hex_hits = s.execute(sa.text("SELECT rowid FROM request_fts WHERE request_fts MATCH "
                                             "'input : \"7528g91cf\"'")).all()
                old = s.scalar(sa.text("SELECT input FROM requests WHERE client_id = :c"), {"c": ids[0]})
            assert len(hex_hits) == 1
            assert old[:1] == b"x" and not old[1] & 0x20  # zlib without a dictionary
        upgrade(db.engine)
        assert _found(db, p, Cond("input", None, "~", "用量")) == {ids[0]}
        assert _found(db, p, Cond("text", None, "~", "用量")) == set(ids)
        with db.read() as s:
            stored = s.scalar(select(Request.input).where(Request.client_id == ids[0]))
            raw = s.scalar(sa.text("SELECT input FROM requests WHERE client_id = :c"), {"c": ids[0]})
        assert stored == {"messages": [{"role": "user", "content": long}]}
        if db.kind == "sqlite":
            assert raw[:1] == b"x" and raw[1] & 0x20 and len(raw) < len(old)  # with the dictionary
    finally:
        db.dispose()


def test_migration_0020_writes_the_index_without_positions_and_back(empty_url):  # noqa: ANN001
    """SQLite: downgrade from 0020 writes 0010's index (a column each, with positions) from the stored
    JSON, and 0020 writes the sets of grams again; the answers are the same before and after."""
    db, p = upgraded(empty_url)
    try:
        pairs = [("服薬の用量について", "はい"), ("別件", "用量"), ("用 量", "量用"), ("ご確認ください", "確認")]
        ids = _ingest(db, p, pairs)
        queries = [(f, q) for f in ("text", "input", "output") for q in ("用量", "量", "確認く", "用 量", "量用")]

        def answers() -> list[set[str]]:
            return [_found(db, p, Cond(f, None, "~", q)) for f, q in queries]

        want = [_expected(ids, pairs, f, q) for f, q in queries]
        assert answers() == want
        downgrade(db.engine, "0021")
        if db.kind == "sqlite":
            with db.read() as s:
                phrase = s.execute(sa.text("SELECT rowid FROM request_fts WHERE request_fts MATCH "
                                           "'input : \"用量\"'")).scalars().all()
                assert s.scalar(sa.text("SELECT count(*) FROM request_fts WHERE request_fts MATCH '\"用量\"'")) == 2
            assert len(phrase) == 1  # a phrase in one column: the positional index again
        upgrade(db.engine)
        assert answers() == want
        if db.kind == "sqlite":
            with db.read() as s:
                columns = [r[1] for r in s.execute(sa.text("PRAGMA table_info(request_fts)"))]
                words = s.scalar(sa.text("SELECT count(*) FROM request_fts WHERE request_fts MATCH '\"用量\"'"))
            assert columns == ["words"] and words == 2
    finally:
        db.dispose()


def test_words_of_characters_the_tokenizer_would_split_or_fold(database, principal):
    """SQLite's words move ASCII punctuation and spaces and the private characters the words use out
    of the way: each text still matches what the definition says, and only that."""
    texts = ["ℍ", "h", "a b", "a\ue020b", "\ue100", "\ue1000041", "x\"y", "x'y", "x*y", "x\\y", "'a'a'a\\a\\"]
    ids = dict(zip(texts, _ingest(database, principal, [(t, "") for t in texts])))
    for t in texts:
        want = {ids[u] for u in texts if tt.matches(t, u)}
        assert _found(database, principal, Cond("input", None, "~", t)) == want, ascii(t)
    assert _found(database, principal, Cond("input", None, "~", "\ue100")) == {ids["\ue100"], ids["\ue1000041"]}


def test_pure_rules():
    assert tt.snippet("用量", "前の行\n二行目に用量あり") == tt.Snippet("二行目に用量あり", 4, 6)
    assert tt.snippet("ｶﾞ", "xガy") == tt.Snippet("xガy", 1, 2) and tt.snippet("a\nb", "a\nb") is None
    assert tt.snippet("ab", "a\nb ab") == tt.Snippet("b ab", 2, 4)  # the first match within a line
    assert tt.normal("ＡＢＣｶﾞ Straße") == "abcガ strasse"
    assert tt.query_grams("用量です") == (["用量", "量で", "です"], False)
    assert tt.query_grams("Ｋ") == (["k"], True) and tt.query_grams("") == ([], False)
    assert tt.grams("abc") == ["ab", "bc", "c"]
    text = "x" * 50_000
    parts = tt.chunks(text)
    assert all(len(c) <= tt.CHUNK for c in parts) and sum(len(c) for c in parts) > len(text)


def test_a_normal_line_maps_its_match_as_character_by_character():
    """The highlight's quick mapping for a line that is its own normal form gives the offsets the mapping
    character by character gives, marks and all."""
    rng = random.Random(15)
    letters = ALPHABET + ["\u0301", "\u3099", "が", "e"]
    checked = 0
    for _ in range(3000):
        line = "".join(rng.choice(letters) for _ in range(rng.randint(1, 12)))
        for line in (line, tt.normal(line)):
            norm = tt.normal(line)
            start = rng.randrange(len(norm))
            q = norm[start:start + rng.choice([1, 2, 3])]
            if q and q in norm:
                assert tt._mapped(q, line, norm) == tt._mapped_by_character(q, line), ascii((q, line))
                checked += norm == line
    assert checked > 1000


def test_api_items_carry_the_match(api):
    body = {"id": uuid.uuid4().hex, "input": {"messages": [{"role": "user", "content": "一行目\n二行目に用量あり"}]},
            "output": {"text": "ＡＢＣ"}}
    assert api.post("/api/v1/requests", json=body).status_code == 200
    item = api.get("/api/v1/requests", params={"filter": 'text ~ "用量"'}).json()["items"][0]
    assert item["match"] == {"field": "input", "text": "二行目に用量あり", "start": 4, "end": 6}
    item = api.post("/api/v1/requests/search", json={"filter": 'metadata.x missing and output ~ "bc"'}).json()
    assert item["items"][0]["match"] == {"field": "output", "text": "ＡＢＣ", "start": 1, "end": 3}
    assert "match" not in api.get("/api/v1/requests").json()["items"][0]


def test_a_checked_text_superset_is_counted_to_its_own_bound(database, principal):
    """SQLite checks each counted row of a 3+-character text query (the index gives a superset), so its
    count stops at query_plan.CHECKED_COUNT; a 2-character query (exact from the index) and PostgreSQL
    (exact phrases) count to PROBE."""
    _ingest(database, principal, [("用法と用量をご確認ください", f"回答 {i}") for i in range(query_plan.CHECKED_COUNT + 5)])
    checked = database.kind == "sqlite"
    with database.read() as s:
        for filt, bounded in (('text ~ "ください"', checked), ('input ~ "用量"', checked), ('text ~ "用量"', False)):
            found = request_reads.browse(s, principal, node=parse(filt), limit=10, count=True)
            want = {"count": query_plan.CHECKED_COUNT, "more": True} if bounded else \
                {"count": query_plan.CHECKED_COUNT + 5, "more": False}
            assert found["matching"] == want, filt
            assert len(found["items"]) == 10, filt
