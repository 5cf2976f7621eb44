"""CSV for Excel: `bom` starts the export with a UTF-8 byte order mark (API, UI; the CLI's --bom is in
test_cli.py); the UI's export is that by default in Japanese."""

from __future__ import annotations

import csv
import io

import pytest

from tests.support import ingest, log

pytestmark = pytest.mark.one_database

BOM = b"\xef\xbb\xbf"


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_api_csv_has_a_bom_only_when_asked(api):
    ingest(api, log(output={"text": "1日2回、食後に服用してください。"}))
    plain = api.get("/api/v1/requests/export", params={"format": "csv"}).content
    excel = api.get("/api/v1/requests/export", params={"format": "csv", "bom": "true"}).content
    assert not plain.startswith(BOM) and excel.startswith(BOM) and not excel[3:].startswith(BOM)
    assert _rows(excel) == _rows(plain) and _rows(excel)[0][0] == "id"
    assert "1日2回、食後に服用してください。" in _rows(excel)[1]
    jsonl = api.get("/api/v1/requests/export", params={"format": "jsonl", "bom": "true"}).content
    assert jsonl.startswith(b"{")  # JSONL readers do not expect a BOM: never one there
    assert api.get("/api/v1/requests/export", params={"format": "csv", "bom": "maybe"}).status_code == 422


def test_ui_export_has_a_bom_by_default_in_japanese(api, ui):
    ingest(api, log())
    ja, en = ui("viewer", lang="ja"), ui("viewer", lang="en")
    assert ja.get("/ui/requests/export", params={"format": "csv"}).content.startswith(BOM)
    assert not en.get("/ui/requests/export", params={"format": "csv"}).content.startswith(BOM)
    assert en.get("/ui/requests/export", params={"format": "csv", "bom": "true"}).content.startswith(BOM)
    off = ja.get("/ui/requests/export", params={"format": "csv", "bom": "false"}).content
    assert not off.startswith(BOM) and _rows(off)[0][0] == "id"


def test_the_requests_page_offers_the_other_csv(api, ui):
    """Beside the export link (the language's default), the other choice: for Excel in English, without
    the BOM in Japanese; both links download what they say."""
    import re

    ingest(api, log())
    for lang, bom, label in (("en", "true", "for Excel"), ("ja", "false", "BOM なし UTF-8")):
        client = ui("viewer", lang=lang)
        page = client.get("/ui/requests").text
        link = re.search(r'<a id="export-csv-other" href="([^"]+)" download>([^<]+)</a>', page)
        assert link and link.group(2) == label and f"bom={bom}" in link.group(1), page[:3000]
        body = client.get(link.group(1).replace("&amp;", "&")).content
        assert body.startswith(BOM) == (bom == "true") and _rows(body)[0][0] == "id"
