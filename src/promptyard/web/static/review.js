// The focused review page (web/ui/queue_pages.py): the keyboard, and answers posted by fetch with
// the next item swapped in (no page load). Without this file the page is plain forms: each answer
// is a post and a redirect to the next item.
"use strict";
(() => {
  const TYPING = new Set(["TEXTAREA", "SELECT"]);
  let busy = false;

  function current() { return document.getElementById("review"); }

  function choose(key) {
    // A one-key answer: the first score with this key and no answer yet (else the first with the key).
    const sets = [...document.querySelectorAll("#review fieldset.score")]
      .filter((f) => f.querySelector(`[data-key="${key}"]`));
    const open = sets.find((f) => !f.querySelector("input:checked")) || sets[0];
    if (!open) return false;
    const target = open.querySelector(`[data-key="${key}"]`);
    if (target.tagName === "BUTTON") target.form.requestSubmit(target);
    else target.checked = true;
    return true;
  }

  async function send(form, submitter) {
    if (busy) return;
    busy = true;
    const body = new URLSearchParams(new FormData(form, submitter));
    // (form.action would be the buttons named "action", not the attribute)
    try {
      const answer = await fetch(form.getAttribute("action"), { method: "POST", body, credentials: "same-origin",
                                                headers: { "Accept": "text/html" } });
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const next = page.getElementById("review");
      if (!next) { window.location.assign(answer.url); return; }
      current().replaceWith(document.adoptNode(next));
      const notice = document.querySelector("p.notice");
      const fresh = page.querySelector("p.notice");
      if (notice) notice.remove();
      if (fresh) current().before(document.adoptNode(fresh));
      if (answer.redirected) history.replaceState(null, "", answer.url);
      document.title = page.title;
      bind();
      window.scrollTo(0, 0);
    } catch (error) {
      form.submit();  // the network failed: the plain post reports it
    } finally {
      busy = false;
    }
  }

  function bind() {
    const form = document.getElementById("review-form");
    if (form) form.addEventListener("submit", (event) => { event.preventDefault(); send(form, event.submitter); });
  }

  document.addEventListener("keydown", (event) => {
    const form = document.getElementById("review-form");
    if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
    const el = event.target;
    if (TYPING.has(el.tagName) || (el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox")) {
      if (event.key === "Escape") el.blur();
      return;
    }
    const key = event.key.toLowerCase();
    if (key.length !== 1) return;
    let handled = choose(key);  // 1-5, y / n, a category's key
    if (!handled && (key === "j" || key === "n")) {
      const save = document.getElementById("save");
      if (save) { form.requestSubmit(save); handled = true; }
    } else if (!handled && key === "s") { form.requestSubmit(document.getElementById("skip")); handled = true; }
    else if (!handled && key === "c") { document.getElementById("comment").focus(); handled = true; }
    if (handled) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", bind);
})();
