"""The UI's message catalogues: every key in English and Japanese, and every key used exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from promptyard import catalogue

UI = Path(catalogue.__file__).parent
TEMPLATES = UI.parent / "templates"


def _files(lang: str) -> list[Path]:
    return [p for p in catalogue.DIRECTORY.glob("*.json") if p.name.split(".")[-2] == lang]


def test_every_key_exists_in_both_languages():
    en, ja = catalogue.catalogue("en"), catalogue.catalogue("ja")
    assert sorted(set(en) - set(ja)) == []
    assert sorted(set(ja) - set(en)) == []
    assert all(isinstance(v, str) and v.strip() for v in [*en.values(), *ja.values()])


def test_each_area_has_both_files():
    areas = {p.name.rsplit(".", 2)[0] if p.name.count(".") == 2 else "" for p in catalogue.DIRECTORY.glob("*.json")}
    for area in areas:
        prefix = f"{area}." if area else ""
        assert (catalogue.DIRECTORY / f"{prefix}en.json").exists() and (catalogue.DIRECTORY / f"{prefix}ja.json").exists()
        json.loads((catalogue.DIRECTORY / f"{prefix}ja.json").read_text(encoding="utf-8"))


def test_placeholders_match_between_languages():
    en, ja = catalogue.catalogue("en"), catalogue.catalogue("ja")
    fields = re.compile(r"\{(\w+)\}")
    for key, text in en.items():
        assert set(fields.findall(text)) == set(fields.findall(ja[key])), key


def test_literal_keys_in_templates_and_pages_exist():
    en = catalogue.catalogue("en")
    used: set[str] = set()
    for path in [*TEMPLATES.rglob("*.html"), *UI.glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""", text))
        # Python code names keys as catalogue.translate(lang, "key") and {"ui_message": "key"}.
        used |= set(re.findall(r"""translate\([^,()]+,\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""", text))
        used |= set(re.findall(r"""['"]ui_message['"]:\s*['"]([a-z_]+\.[a-z0-9_.]+)['"]""", text))
    # A key ending in "." or "_" is a prefix completed at run time (t("role." ~ user.role)).
    assert sorted(k for k in used if k not in en and not k.endswith((".", "_"))) == []


def test_missing_japanese_falls_back_to_english_and_unknown_shows_the_key(monkeypatch):
    monkeypatch.setitem(catalogue.catalogue("en"), "zz.only_en", "only in English")
    assert catalogue.translate("ja", "zz.only_en") == "only in English"
    assert catalogue.translate("ja", "zz.unknown") == "zz.unknown"


def test_language_negotiation():
    assert catalogue.negotiate(None, None, "ja-JP,ja;q=0.9,en;q=0.8") == "ja"
    assert catalogue.negotiate(None, None, "fr, en;q=0.5, ja;q=0.4") == "en"
    assert catalogue.negotiate("en", "ja", "ja") == "en"
    assert catalogue.negotiate(None, "ja", "en") == "ja"
    assert catalogue.negotiate(None, None, None) == "en"
