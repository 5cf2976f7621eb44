// The run page's live progress: polls the small JSON route named in data-poll and updates the bar and the
// counts; when the run has finished it reloads the page once for the results. Without this file the page
// shows the same after a reload.
"use strict";
(function () {
  const section = document.querySelector("#run-progress[data-poll]");
  if (!section) return;
  const url = section.getAttribute("data-poll");
  const bar = section.querySelector("progress");
  function show(name, value) {
    const el = section.querySelector('[data-count="' + name + '"]');
    if (el) el.textContent = String(value);
  }
  async function poll() {
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!answer.ok) return setTimeout(poll, 5000);
      const state = await answer.json();
      if (bar) { bar.max = state.progress.total; bar.value = state.progress.done + state.progress.failed; }
      show("done", state.progress.done);
      show("failed", state.progress.failed);
      show("total", state.progress.total);
      if (["done", "cancelled", "failed"].includes(state.status)) return window.location.reload();
    } catch (e) { /* the network dropped: try again later */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
