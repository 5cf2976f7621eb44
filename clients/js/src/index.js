// Promptyard client for browsers and Node 18+ (fetch, crypto.subtle; no dependencies).
//
//   const py = new Promptyard({ baseUrl, apiKey });      // a publishable key in browsers
//   const prompt = await py.get("support/answer", { label: "production", variables, metadata });
//   const id = py.log({ provider, model, input, output, prompt });   // returns at once
//   py.score(id, "helpful", 90);  await py.flush();
//
// Logging never blocks and never throws: one bounded queue, sent in batches by a timer, retried
// with backoff on 5xx/429/network errors, dropped (and counted) only when the queue is full or
// the server refuses the data (other 4xx).

import { Redactor } from "./redaction.js";

export { KINDS, PLACEHOLDERS, PolicyError, Redactor, find, findCodePoints, normalise, parsePolicy } from "./redaction.js";

const RETRY = new Set([408, 425, 429, 500, 502, 503, 504]);
// Scores and metadata updates go in bulk: path, and the body's list.
const BATCHES = { score: ["/api/v1/scores", "scores"], metadata: ["/api/v1/requests/metadata", "updates"] };
const entry = (i) => (i.kind === "score" ? { request: i.id, ...i.body } : { request: i.id, metadata: i.body });
const TWO_52 = 2 ** 52;

export class PromptyardError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = "PromptyardError";
    Object.assign(this, { status, code, details });
  }
}

// --- routing: the server's weighted rendezvous hashing, byte for byte ---------------------------

async function sha256(text) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest);
}

/** The uniform (0, 1) draw of (salt, unit, version): first 52 bits of SHA-256, centred. */
export async function rendezvousU(salt, unit, version) {
  const d = await sha256(`${salt}\x1f${unit}\x1f${version}`);
  const h = d[0] * 2 ** 44 + d[1] * 2 ** 36 + d[2] * 2 ** 28 + d[3] * 2 ** 20 + d[4] * 2 ** 12 + d[5] * 16 + (d[6] >> 4);
  return (h + 0.5) / TWO_52;
}

function metaValue(metadata, key) {
  const v = metadata[key];
  if (v === undefined || v === null || typeof v === "string") return v ?? null;
  return JSON.stringify(v);
}

function holds(c, value) {
  switch (c.op ?? "=") {
    case "=": return value !== null && value === c.value;
    case "!=": return value !== c.value;
    case "in": return value !== null && c.value.includes(value);
    case "not_in": return value === null || !c.value.includes(value);
    case "exists": return Boolean(value);
    default: throw new PromptyardError(0, "invalid_input", `unknown condition op ${c.op}`);
  }
}

async function choose(split, unit, salt) {
  if (unit === null) {
    let r = Math.random() * split.reduce((a, s) => a + s.weight, 0);
    for (const s of split) { r -= s.weight; if (r < 0) return s.version; }
    return split[split.length - 1].version;
  }
  let best = null;
  for (const s of split) {
    const score = -Math.log(await rendezvousU(salt, unit, s.version)) / s.weight;
    if (best === null || score < best.score || (score === best.score && s.version < best.version)) {
      best = { score, version: s.version };
    }
  }
  return best.version;
}

/** The version a request gets under a label's routing policy: {version, rule, unit}. */
export async function assign(policy, metadata, label) {
  const sticky = policy.sticky_key;
  const unit = (sticky ? metaValue(metadata, sticky) : null) || null;
  const salt = policy.salt || label;
  for (const seg of policy.segments ?? []) {
    if (seg.when.every((c) => holds(c, metaValue(metadata, c.key)))) {
      if (seg.version !== undefined) return { version: seg.version, rule: `segment:${seg.name}`, unit };
      return { version: await choose(seg.split, unit, salt), rule: `segment:${seg.name}/split`, unit };
    }
  }
  return { version: await choose(policy.split, unit, salt), rule: "split", unit };
}

// --- f-string rendering (simple `{name}` fields; anything else is rendered by the server) ------

const FIELD = /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]/g;

/** Renders `{name}` fields, `{{` and `}}`; returns null when the text needs the server
 * (format specs, attribute access, jinja2) so callers can ask it instead. */
export function renderFString(text, variables) {
  let ok = true;
  const missing = [];
  const out = text.replace(FIELD, (m, name) => {
    if (m === "{{") return "{";
    if (m === "}}") return "}";
    if (name === undefined) { ok = false; return m; }
    if (!(name in variables)) { missing.push(name); return ""; }
    const v = variables[name];
    if (v === null || v === undefined) return "";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  });
  if (!ok) return null;
  if (missing.length) throw new PromptyardError(0, "invalid_input", `missing input variable(s): ${missing.join(", ")}`, { missing });
  return out;
}

// --- text the server accepts --------------------------------------------------------------------

const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** NUL and lone surrogates become U+FFFD (the server refuses them; the log is kept). */
export function cleanText(s) {
  return s.replace(/\u0000/g, "\ufffd").replace(LONE, "\ufffd");
}

function clean(value) {
  if (typeof value === "string") return cleanText(value);
  if (Array.isArray(value)) return value.map(clean);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    if (typeof value.toJSON === "function") return clean(value.toJSON());
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [cleanText(k), clean(v)]));
  }
  return value;
}

function encode(value) {
  return JSON.stringify(clean(value));
}

function uuid4() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const backoff = (attempt, base, cap) => { const step = Math.min(cap, base * 2 ** attempt); return step / 2 + Math.random() * step / 2; };

// --- the client ---------------------------------------------------------------------------------

export class Promptyard {
  constructor({ baseUrl, apiKey, cacheTtl = 60, staleTtl = 3600, maxQueue = 1000, batchSize = 100,
    flushInterval = 1000, maxRetries = 5, timeout = 10000, headers = {}, redact = false } = {}) {
    // Redaction before anything is queued (and so before it is sent): true = the default policy.
    this.redactor = redact ? new Redactor(redact) : null;
    const env = globalThis.process?.env ?? {};
    this.baseUrl = (baseUrl ?? env.PROMPTYARD_URL ?? "http://127.0.0.1:8700").replace(/\/+$/, "");
    this.apiKey = apiKey ?? env.PROMPTYARD_API_KEY;
    Object.assign(this, { cacheTtl, staleTtl, maxQueue, batchSize, flushInterval, maxRetries, timeout });
    this.extraHeaders = headers;
    this.cache = new Map();
    this.refreshing = new Map();
    this.queue = [];
    this.sending = null;
    this.counters = { queued: 0, sent: 0, retried: 0, dropped: 0, rejected: 0 };
    this.perCall = false; // set when the server has no bulk routes for scores and metadata
    this.timer = null;
    if (globalThis.addEventListener) globalThis.addEventListener("pagehide", () => this._sendOnUnload());
  }

  headers(json = false) {
    const h = { Accept: "application/json", ...this.extraHeaders };
    if (this.apiKey) h.Authorization = `Bearer ${this.apiKey}`;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async _request(method, path, body, extra = {}) {
    let response;
    try {
      response = await fetch(this.baseUrl + path, { method, headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : encode(body), signal: AbortSignal.timeout(this.timeout), ...extra });
    } catch (err) {
      throw new PromptyardError(0, "unavailable", `Promptyard server unreachable: ${err.message}`);
    }
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const e = data?.error ?? {};
      throw new PromptyardError(response.status, e.code ?? "error", e.message ?? `HTTP ${response.status}`, e.details);
    }
    return data;
  }

  // --- prompts ----------------------------------------------------------------------------------

  async _bundle(name, version, label) {
    const q = new URLSearchParams();
    if (version != null) q.set("version", String(version));
    if (label != null) q.set("label", label);
    const path = `/api/v1/prompt-bundle/${name.split("/").map(encodeURIComponent).join("/")}?${q}`;
    const bundle = await this._request("GET", path);
    this.cache.set(JSON.stringify([name, version ?? null, label ?? null]), { bundle, at: Date.now() });
    return bundle;
  }

  _refresh(key, name, version, label) {
    if (this.refreshing.has(key)) return; // one refresh per key at a time
    const p = this._bundle(name, version, label).catch(() => {}).finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, p);
  }

  /** A prompt version by `version` | `label` (default: 'production', else the newest), rendered
   * with `variables`; `metadata` feeds the label's routing policy (assigned here, no request). */
  async get(name, { version, label, variables, metadata = {}, fallback } = {}) {
    const key = JSON.stringify([name, version ?? null, label ?? null]);
    const entry = this.cache.get(key);
    const age = entry ? (Date.now() - entry.at) / 1000 : Infinity;
    let bundle, stale = false;
    if (age < this.cacheTtl + this.staleTtl) {
      bundle = entry.bundle;
      if (age >= this.cacheTtl) this._refresh(key, name, version, label);
    } else {
      try {
        bundle = await this._bundle(name, version, label);
      } catch (err) {
        if (err.code !== "unavailable" && err.status < 500) throw err;
        if (entry) { bundle = entry.bundle; stale = true; }
        else if (fallback !== undefined) return this._fallback(name, fallback, variables);
        else throw err;
      }
    }
    let chosen = bundle.versions[String(bundle.version)], routing = null;
    if (bundle.policy) {
      const a = await assign(bundle.policy, metadata, bundle.label);
      chosen = bundle.versions[String(a.version)];
      routing = { label: bundle.label, rule: a.rule, unit: a.unit };
    }
    const rendered = variables === undefined ? null : await this._render(name, chosen, variables, metadata);
    return makePrompt(name, chosen, { label: bundle.label, variables, rendered, routing, stale });
  }

  async _render(name, version, variables, metadata) {
    if (version.template_format !== "jinja2") {
      const local = renderLocally(version, variables);
      if (local) return local;
    }
    const path = `/api/v1/fetch/${name.split("/").map(encodeURIComponent).join("/")}`;
    return (await this._request("POST", path, { version: version.number, variables, metadata })).rendered;
  }

  _fallback(name, fallback, variables) {
    const v = typeof fallback === "string" ? { type: "completion", text: fallback }
      : Array.isArray(fallback) ? { type: "chat", messages: fallback } : { type: fallback.text !== undefined ? "completion" : "chat", ...fallback };
    v.number = null;
    const rendered = variables === undefined ? null : renderLocally(v, variables);
    return makePrompt(name, v, { label: null, variables, rendered, routing: null, isFallback: true });
  }

  // --- logging ----------------------------------------------------------------------------------

  /** Queue one request log; returns its id (generated here unless given) at once. */
  log({ id, prompt, startTime, endTime, ...fields } = {}) {
    const now = Date.now() / 1000;
    if (fields.error instanceof Error) fields.error = { type: fields.error.name, message: fields.error.message };
    const body = { id: id ?? uuid4(), start_time: startTime ?? now, end_time: endTime ?? now,
      status: fields.error ? "error" : "ok", ...snake(fields) };
    if (prompt && typeof prompt.link === "function") {
      const link = prompt.link();
      if (link) body.prompt = link;
      if (prompt.routing && !body.routing) body.routing = prompt.routing;
    } else if (prompt) body.prompt = prompt;
    if (body.metadata) body.metadata = Object.fromEntries(Object.entries(body.metadata).map(([k, v]) => [k, v == null ? "" : String(v)]));
    this._put({ kind: "log", body: this.redactor ? redactLog(this.redactor, body) : body });
    return body.id;
  }

  score(requestId, name, value, comment) {
    const text = comment == null || !this.redactor ? comment : this.redactor.value(comment);
    this._put({ kind: "score", id: requestId, body: { name, value, source: "api", ...(comment == null ? {} : { comment: text }) } });
  }

  metadata(requestId, values) {
    const body = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
    this._put({ kind: "metadata", id: requestId, body: this.redactor ? this.redactor.value(body) : body });
  }

  stats() {
    return { ...this.counters, in_queue: this.queue.length };
  }

  _put(item) {
    if (this.queue.length >= this.maxQueue) { this.counters.dropped += 1; return; } // newest is dropped
    this.queue.push(item);
    this.counters.queued += 1;
    if (this.queue.length >= this.batchSize) this._kick();
    else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this._kick(); }, this.flushInterval);
      this.timer.unref?.(); // never keep a Node process alive for logging alone
    }
  }

  _kick() {
    if (!this.sending) this.sending = this._drain().finally(() => { this.sending = null; });
    return this.sending;
  }

  async _drain() {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.batchSize);
      const logs = batch.filter((i) => i.kind === "log");
      if (logs.length) await this._send("/api/v1/requests", { requests: logs.map((i) => i.body) }, logs.length);
      // Then the batch's scores in one request, and its metadata in one (they usually find their log stored).
      for (const kind of ["score", "metadata"]) {
        const items = batch.filter((i) => i.kind === kind);
        if (!items.length) continue;
        const [path, key] = BATCHES[kind];
        if (!this.perCall && (await this._send(path, { [key]: items.map(entry) }, items.length, true)) !== 404) continue;
        this.perCall = true; // a server from before the bulk routes: one request per item, as then
        for (const i of items) {
          await this._send(`/api/v1/requests/${encodeURIComponent(i.id)}/${kind === "score" ? "scores" : "metadata"}`, i.body, 1);
        }
      }
    }
  }

  /** POST with retries; the final status (0: gave up). `probe`: a 404/405 is returned uncounted. */
  async _send(path, body, n, probe = false) {
    for (let attempt = 0; ; attempt++) {
      let status = 0, data = null;
      try {
        const r = await fetch(this.baseUrl + path, { method: "POST", headers: this.headers(true), body: encode(body),
          signal: AbortSignal.timeout(this.timeout) });
        status = r.status;
        data = await r.json().catch(() => null);
      } catch { status = 0; }
      if (probe && (status === 404 || status === 405)) return 404;
      if ((status >= 200 && status < 300) || (status === 422 && Array.isArray(data?.errors))) {
        const errors = Array.isArray(data?.errors) ? data.errors.length : 0;
        this.counters.sent += n - errors;
        this.counters.rejected += errors;
        if (errors) console.error(`promptyard: ${path} refused ${errors} of ${n} items, e.g. ${data.errors[0].message}`);
        return status;
      }
      if (status !== 0 && !RETRY.has(status)) {
        this.counters.rejected += n;
        console.error(`promptyard: ${path} refused (${status}): ${data?.error?.message ?? ""}`);
        return status;
      }
      if (attempt >= this.maxRetries) { this.counters.dropped += n; return 0; }
      this.counters.retried += 1;
      await sleep(backoff(attempt, 250, 30000));
    }
  }

  _sendOnUnload() {
    // A page going away: hand what is queued to the browser with keepalive (best effort).
    const logs = this.queue.splice(0).filter((i) => i.kind === "log").map((i) => i.body);
    if (logs.length) {
      fetch(this.baseUrl + "/api/v1/requests", { method: "POST", keepalive: true, headers: this.headers(true),
        body: encode({ requests: logs }) }).catch(() => {});
    }
  }

  /** Send everything queued so far; resolves true when the queue is empty within `timeoutMs`. */
  async flush(timeoutMs = 10000) {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    const done = (async () => { while (this.queue.length || this.sending) await this._kick(); return true; })();
    return Promise.race([done, sleep(timeoutMs).then(() => false)]);
  }

  async shutdown(timeoutMs = 5000) {
    return this.flush(timeoutMs);
  }
}

/** A log body with its free text redacted: the fields the server redacts (input, output, prompt variables,
 * the error message, metadata values, tags, score comments, the routing unit); keys, names and ids stay. */
function redactLog(red, body) {
  const out = { ...body };
  if ("input" in out) out.input = red.value(out.input);
  if ("output" in out) out.output = red.value(out.output);
  if (out.prompt?.variables) out.prompt = { ...out.prompt, variables: red.value(out.prompt.variables) };
  if (typeof out.error?.message === "string") out.error = { ...out.error, message: red.text(out.error.message) };
  if (out.metadata) out.metadata = red.value(out.metadata);
  if (Array.isArray(out.tags)) out.tags = [...new Set(out.tags.map((t) => red.value(t)))].filter((t) => t); // as the server keeps them
  if (Array.isArray(out.scores)) out.scores = out.scores.map((s) => (typeof s?.comment === "string" ? { ...s, comment: red.text(s.comment) } : s));
  if (typeof out.routing?.unit === "string") out.routing = { ...out.routing, unit: red.text(out.routing.unit) };
  return out;
}

function snake(fields) {
  const out = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined && v !== null) out[k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())] = v;
  }
  return out;
}

function templateOf(version) {
  return version.type === "completion" ? { text: version.text ?? "" } : { messages: version.messages ?? [] };
}

function renderLocally(version, variables) {
  const t = templateOf(version);
  if (t.text !== undefined) {
    const text = renderFString(t.text, variables);
    return text === null ? null : { text };
  }
  const messages = [];
  for (const m of t.messages) {
    const content = renderFString(m.content, variables);
    if (content === null) return null;
    messages.push({ ...m, content });
  }
  return { messages };
}

function makePrompt(name, version, { label, variables, rendered, routing, stale = false, isFallback = false }) {
  const body = rendered ?? templateOf(version);
  const model = version.model ?? {};
  return {
    name, version: version.number ?? null, label, type: version.type ?? "chat",
    templateFormat: version.template_format ?? "f-string", messages: body.messages ?? null, text: body.text ?? null,
    tools: version.tools ?? null, provider: model.provider ?? null, model: model.name ?? null,
    parameters: { ...(model.parameters ?? {}) }, inputVariables: version.input_variables ?? [], variables, routing,
    stale, isFallback,
    link() {
      if (isFallback) return null;
      const out = { name, version: version.number };
      if (label) out.label = label;
      if (variables) out.variables = variables;
      return out;
    },
    /** Arguments for OpenAI's chat.completions.create. */
    openaiArgs(overrides = {}) {
      const args = { ...(model.name ? { model: model.name } : {}), messages: body.messages, ...(version.tools ? { tools: version.tools } : {}) };
      return { ...args, ...(model.parameters ?? {}), ...overrides };
    },
  };
}
