"""The documentation stays true to the code: every setting is documented."""

from __future__ import annotations

from pathlib import Path

from promptyard.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_in_the_usage_table():
    usage = (DOCS / "usage.md").read_text(encoding="utf-8")
    missing = [name for name, _, _ in Settings.describe() if f"| `{name}` |" not in usage]
    assert missing == [], f"add these to the settings table in docs/usage.md: {missing}"
