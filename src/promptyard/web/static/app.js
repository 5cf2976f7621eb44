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
