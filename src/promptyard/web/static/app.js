// Small progressive enhancements; every page works without this file.
"use strict";
// The browser's time zone, for pages of a workspace without one (web/ui/times.py; UTC without this).
try {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // IANA names are cookie-safe as they are (the server reads the value unescaped).
  if (/^[A-Za-z0-9_+\-/]+$/.test(zone || "")) {
    document.cookie = `py_tz=${zone}; path=/ui; max-age=31536000; SameSite=Lax`;
  }
} catch (error) { /* no Intl: pages stay in UTC */ }
document.addEventListener("DOMContentLoaded", () => {
  // Forms marked data-confirm ask before submitting (e.g. revoking a key).
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  // Buttons marked data-copy copy the text of the element they name.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => {
      const source = document.getElementById(button.dataset.copy);
      if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim());
    });
  }
  // Selects marked data-autosubmit submit their form on change (a button remains for no-JS use).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
});
// LLM output shown as Markdown has its raw text beside it (hidden); the "raw" link (a plain link
// to ?raw=1 without this file) then toggles in place: web/ui/markdown.py, requests/_macros.html.
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a[data-md-toggle]")) {
    if (!document.querySelector(".md-pair")) continue; // the raw view itself: a plain link back
    let raw = false;
    link.setAttribute("role", "button");
    link.setAttribute("aria-pressed", "false");
    link.addEventListener("click", (event) => {
      event.preventDefault();
      raw = !raw;
      for (const pair of document.querySelectorAll(".md-pair")) {
        pair.querySelector(".md").hidden = raw;
        pair.querySelector(".md-src").hidden = !raw;
      }
      for (const other of document.querySelectorAll("a[data-md-toggle]")) {
        other.textContent = raw ? other.dataset.showRendered : other.dataset.showRaw;
        other.setAttribute("aria-pressed", String(raw));
      }
    });
  }
});
