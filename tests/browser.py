"""The steps the browser tests share (the `browser` and `live` fixtures are in conftest.py): a
logged-in page, the registry flow, hostile payloads; and where Chromium is.

Under CI=true a missing browser fails the test; locally it skips with a loud message.
"""

from __future__ import annotations

import re
import shutil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


TEXTS = {
    "en": {"saved": "New version saved.", "moved": "Label moved.", "nav": "Prompts", "score_saved": "Score saved.",
           "analytics": "Analytics by version", "requests": "Requests", "rendered": "Rendered template"},
    "ja": {"saved": "新しいバージョンを保存しました。", "moved": "ラベルを移動しました。", "nav": "プロンプト",
           "score_saved": "スコアを保存しました。", "analytics": "バージョン別の分析", "requests": "リクエスト",
           "rendered": "展開したテンプレート"},
}
# Each sets window.__xss (and opens a dialog) if it ever runs.
PAYLOADS = [
    "<script>window.__xss = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">",
    "\"><svg onload=\"window.__xss = 'svg'; alert('svg')\">",
    "javascript:window.__xss='link';alert('link')",
]


def new_page(browser, live, lang: str, *, js: bool = True, start: str = "/ui/prompts",  # noqa: ANN001, ANN201
             email: str | None = None, password: str | None = None, zone: str | None = None):
    """A page whose browser prefers `lang` (and is in time zone `zone`, else the machine's), logged
    in (as the first admin unless told) through the login form that `start` redirects to; dialogs
    are recorded (and dismissed)."""
    context = browser.new_context(locale="ja-JP" if lang == "ja" else "en-US", viewport={"width": 1360, "height": 900},
                                  java_script_enabled=js, timezone_id=zone)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(live.url + start)
    assert "/ui/login" in page.url
    page.fill("input[name=email]", email or live.admin_email)
    page.fill("input[name=password]", password or live.admin_password)
    page.click("form[action='/ui/login'] button")
    page.wait_for_url(re.compile(rf".*{re.escape(start)}$"))
    return page


def registry_steps(page, live, name: str, lang: str) -> None:  # noqa: ANN001
    """Create a prompt in the folder experimental/, edit it to version 2 with a commit message
    (previewing it first), view the diff, move production to v2 with a reason."""
    page.goto(live.url + "/ui/prompts/new")
    page.fill("input[name=name]", name)
    page.fill("input[name=folder]", "experimental")
    page.fill("textarea[name=content_0]", "You answer questions about {topic}.")
    page.fill("textarea[name=content_1]", "{question}")
    page.fill("input[name=commit_message]", "first version")
    page.click("button[name=save]")
    page.wait_for_url(re.compile(r".*/ui/prompts/\d+\?notice=prompt_created$"))
    assert page.inner_text("h1") == name

    page.click("a[href*='/edit']")
    page.fill("textarea[name=content_0]", "You answer questions about {topic}, briefly and kindly.")
    page.fill("textarea[name=var_topic]", "aspirin")
    page.fill("textarea[name=var_question]", "dose?")
    page.click("button[name=preview]")
    assert "about aspirin, briefly" in page.inner_text("#preview")
    page.fill("input[name=commit_message]", "shorter, kinder answers")
    page.click("button[name=save]")
    page.wait_for_url(re.compile(r".*v=2&notice=version_saved$"))
    assert page.inner_text("p.notice") == TEXTS[lang]["saved"]
    assert "shorter, kinder answers" in page.inner_text("table")

    page.click("a.button[href$='/diff']")
    row = page.locator("table.diff tr.replace").first
    assert "about {topic}." in row.inner_text() and "briefly and kindly" in row.inner_text()

    page.goto(page.url.split("/diff")[0] + "/labels")
    page.fill("input[name=label]", "production")
    page.select_option("select[name=version]", "2")
    page.fill("input[name=reason]", "v2 reads better")
    page.click("form[action$='/labels'] button.primary")
    page.wait_for_url(re.compile(r".*/labels\?notice=label_moved$"))
    assert page.inner_text("p.notice") == TEXTS[lang]["moved"]
    assert "v2 reads better" in page.inner_text("body")


def dataset_from_filter(page, live, q: str, name: str) -> None:  # noqa: ANN001
    """From the request list: filter by `q` and make the matches a new dataset `name` (lands on its page)."""
    page.goto(live.url + "/ui/requests")
    page.fill("input[name=q]", q)
    page.press("input[name=q]", "Enter")
    page.click("#dataset-from-filter")
    page.fill("input[name=name]", name)
    page.click("#dataset-add")
    page.wait_for_url(re.compile(r".*/ui/datasets/\d+\?notice=dataset_version$"))


# LLM output rendered as Markdown (web/ui/markdown.py): each would run or load something if the
# renderer let HTML, a script URL or an image through. REMOTE is never fetched by a safe page.
REMOTE = "http://remote.invalid"
MARKDOWN_PAYLOADS = [
    "# 用量\n\n<script>window.__xss = 'md-script'; alert('md-script')</script>",
    f"<img src=\"{REMOTE}/onerror.png\" onerror=\"window.__xss = 'md-img'; alert('md-img')\">",
    "[クリック](javascript:window.__xss='md-link';alert('md-link')) [大文字](JAVASCRIPT:alert(1))",
    "[データ](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) <data:text/html,<script>alert(2)</script>>",
    f"![図]({REMOTE}/image.png) ![alt]({REMOTE}/x.svg \"title\") ![d](data:image/svg+xml,<svg onload=alert(3)>)",
    f"| 薬 | <b onmouseover=alert(4)>量</b> |\n|---|---|\n| <iframe src=\"{REMOTE}/frame\"></iframe> | `<script>alert(5)</script>` |",
    "```html\n<script>window.__xss = 'md-code'</script>\n```",
    f"<{REMOTE}/autolink> <javascript:alert(6)> <mailto:ph@example.jp>",
    "*" * 2000 + "a" + "_" * 2000 + "[" * 3000 + "**x" * 1000,
    f"<svg><a xlink:href=\"javascript:alert(7)\"><text>x</text></a></svg> <a href=\"javascript:alert(8)\">a</a>"
    f" <link rel=stylesheet href=\"{REMOTE}/x.css\"> <style>@import '{REMOTE}/y.css'</style>",
]
