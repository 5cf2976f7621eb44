// The live tests run against PROMPTYARD_URL with PROMPTYARD_API_KEY (an admin key), or against a
// server started for them (test/live-server.js); the offline tests need nothing.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Promptyard, assign, cleanText, renderFString } from "../src/index.js";
import { liveServer } from "./live-server.js";

const server = await liveServer();
after(() => server.stop?.());
const live = { skip: server.skip };
if (server.skip) console.log(`# live tests skipped: ${server.skip}`);
const URL_ = server.url;
const KEY = server.key;
const admin = (method, path, body) => fetch(URL_ + path, { method, headers: { Authorization: `Bearer ${KEY}`,
  "Content-Type": "application/json" }, body: body && JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: await r.json().catch(() => null), headers: r.headers }));
const unique = (p) => `${p}-${Math.random().toString(16).slice(2, 10)}`;

test("routing vectors are reproduced exactly", async () => {
  const vectors = JSON.parse(readFileSync(new URL("../../../tests/vectors/routing.json", import.meta.url)));
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    const got = await assign(v.policy, v.metadata, v.label);
    assert.deepEqual({ version: got.version, rule: got.rule }, { version: v.expected.version, rule: v.expected.rule }, v.name);
  }
});

test("f-string rendering and text cleaning", () => {
  assert.equal(renderFString("Hi {name}, {{literal}}", { name: "Ann" }), "Hi Ann, {literal}");
  assert.equal(renderFString("{price:.2f}", { price: 1 }), null); // format specs: the server renders
  assert.throws(() => renderFString("{a}{b}", { a: 1 }), /missing input variable\(s\): b/);
  assert.equal(cleanText("a\u0000b\ud800c"), "a\ufffdb\ufffdc");
  assert.equal(cleanText("ok \ud83d\ude00"), "ok \ud83d\ude00");
});

test("get: label, variables, cache, routing like the server, fallback", live, async () => {
  const name = unique("js/greet");
  let r = await admin("POST", "/api/v1/publish", { name, messages: [{ role: "system", content: "Hello {who}" }],
    model: { provider: "openai", name: "gpt-4o", parameters: { temperature: 0.3 } }, commit_message: "one", labels: ["production"] });
  assert.equal(r.status, 201);
  const promptId = r.body.prompt_id;
  await admin("POST", "/api/v1/publish", { name, messages: [{ role: "system", content: "Hi {who}!" }], commit_message: "two" });
  const py = new Promptyard({ baseUrl: URL_, apiKey: KEY });
  const p = await py.get(name, { variables: { who: "Bo" } });
  assert.equal(p.version, 1);
  assert.deepEqual(p.messages, [{ role: "system", content: "Hello Bo" }]);
  assert.deepEqual(p.openaiArgs(), { model: "gpt-4o", messages: p.messages, temperature: 0.3 });
  assert.deepEqual(p.link(), { name, version: 1, label: "production", variables: { who: "Bo" } });

  const policy = { sticky_key: "user", split: [{ version: 1, weight: 50 }, { version: 2, weight: 50 }] };
  r = await admin("PUT", `/api/v1/prompts/${promptId}/labels/exp`, { policy });
  assert.equal(r.status, 200);
  const seen = new Set();
  for (let i = 0; i < 30; i++) {
    const mine = await py.get(name, { label: "exp", metadata: { user: `u${i}` } });
    const server = await admin("GET", `/api/v1/fetch/${name}?label=exp&meta.user=u${i}`);
    assert.equal(mine.version, server.body.version.number);
    assert.equal(mine.routing.rule, server.body.routing.rule);
    seen.add(mine.version);
  }
  assert.deepEqual([...seen].sort(), [1, 2]);

  const down = new Promptyard({ baseUrl: "http://127.0.0.1:9", apiKey: "x" });
  const fb = await down.get(name, { fallback: [{ role: "user", content: "offline {who}" }], variables: { who: "me" } });
  assert.equal(fb.isFallback, true);
  assert.equal(fb.messages[0].content, "offline me");
  await assert.rejects(down.get(name), /unreachable/);
});

test("logging: batches, retries 5xx with the same ids, cleans text, counts drops", async () => {
  const stored = new Map();
  let failures = 2, posts = 0;
  const sink = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      posts++;
      if (failures > 0) { failures--; res.writeHead(503).end("{}"); return; }
      const body = JSON.parse(data);
      for (const item of body.requests ?? []) stored.set(item.id, item);
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ accepted: body.requests?.length ?? 1, duplicates: 0, errors: [] }));
    });
  });
  await new Promise((r) => sink.listen(0, "127.0.0.1", r));
  const py = new Promptyard({ baseUrl: `http://127.0.0.1:${sink.address().port}`, apiKey: "k", flushInterval: 10, maxQueue: 50 });
  const ids = [];
  for (let i = 0; i < 60; i++) ids.push(py.log({ provider: "openai", model: "m", output: `o${i}\u0000`, metadata: { n: i } }));
  assert.equal(py.stats().dropped, 10);
  assert.equal(await py.flush(10000), true);
  assert.equal(stored.size, 50);
  assert.equal(stored.get(ids[0]).output, "o0\ufffd");
  assert.deepEqual(stored.get(ids[0]).metadata, { n: "0" });
  assert.equal(py.stats().retried, 2);
  assert.equal(py.stats().sent, 50);
  sink.close();
});

test("publishable key: allowed origin gets CORS headers, others 403", live, async () => {
  const origin = "https://shop.example.com";
  const key = await admin("POST", "/api/v1/keys", { name: unique("pk"), kind: "publishable", allowed_origins: [origin] });
  assert.equal(key.status, 201);
  const name = unique("js/pub");
  await admin("POST", "/api/v1/publish", { name, messages: [{ role: "user", content: "x" }], commit_message: "c", labels: ["production"] });
  const py = new Promptyard({ baseUrl: URL_, apiKey: key.body.key, headers: { Origin: origin } });
  const p = await py.get(name);
  assert.equal(p.version, 1);
  const r = await fetch(`${URL_}/api/v1/fetch/${name}`, { headers: { Authorization: `Bearer ${key.body.key}`, Origin: origin } });
  assert.equal(r.headers.get("access-control-allow-origin"), origin);
  const bad = new Promptyard({ baseUrl: URL_, apiKey: key.body.key, headers: { Origin: "https://evil.example" } });
  await assert.rejects(bad.get(name), (e) => e.status === 403);
});

test("scores and metadata go in bulk; a server without the bulk routes gets them one by one", async () => {
  const posts = [];
  let bulk = true;
  const sink = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      posts.push([req.url, JSON.parse(data)]);
      if (!bulk && (req.url === "/api/v1/scores" || req.url === "/api/v1/requests/metadata")) {
        res.writeHead(404, { "Content-Type": "application/json" }).end('{"error": {"code": "not_found", "message": "x"}}');
        return;
      }
      const list = JSON.parse(data).scores;
      const errors = (list ?? []).flatMap((e, index) => (e.value > 100 ? [{ index, message: "too high" }] : []));
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ accepted: 1, errors }));
    });
  });
  await new Promise((r) => sink.listen(0, "127.0.0.1", r));
  const py = new Promptyard({ baseUrl: `http://127.0.0.1:${sink.address().port}`, apiKey: "k", flushInterval: 10 });
  const ids = [py.log({ output: "a" }), py.log({ output: "b" })];
  for (const id of ids) { py.score(id, "q", 50, "良い"); py.metadata(id, { reviewer: "薬剤師A" }); }
  py.score(ids[0], "bad", 101);
  assert.equal(await py.flush(10000), true);
  assert.deepEqual(posts.map(([url]) => url), ["/api/v1/requests", "/api/v1/scores", "/api/v1/requests/metadata"]);
  assert.deepEqual(posts[1][1].scores, [{ request: ids[0], name: "q", value: 50, source: "api", comment: "良い" },
    { request: ids[1], name: "q", value: 50, source: "api", comment: "良い" }, { request: ids[0], name: "bad", value: 101, source: "api" }]);
  assert.deepEqual(posts[2][1].updates, ids.map((request) => ({ request, metadata: { reviewer: "薬剤師A" } })));
  assert.deepEqual([py.stats().sent, py.stats().rejected], [6, 1]);
  bulk = false;
  posts.length = 0;
  py.score(ids[1], "q", 60);
  py.metadata(ids[1], { k: "v" });
  assert.equal(await py.flush(10000), true);
  assert.deepEqual(posts.map(([url]) => url), ["/api/v1/scores", `/api/v1/requests/${ids[1]}/scores`,
    `/api/v1/requests/${ids[1]}/metadata`]);
  assert.deepEqual([py.stats().sent, py.stats().rejected], [8, 1]);
  sink.close();
});

test("live server: log linked to a fetched prompt, score and metadata with a publishable key", live, async () => {
  const origin = "https://shop.example.com";
  const key = await admin("POST", "/api/v1/keys", { name: unique("pk-live"), kind: "publishable", allowed_origins: [origin] });
  const name = unique("js/live");
  await admin("POST", "/api/v1/publish", { name, messages: [{ role: "user", content: "Dose of {drug}?" }],
    model: { provider: "openai", name: "gpt-4o" }, commit_message: "c", labels: ["production"] });
  const py = new Promptyard({ baseUrl: URL_, apiKey: key.body.key, headers: { Origin: origin }, flushInterval: 10 });
  const p = await py.get(name, { variables: { drug: "aspirin" } });
  await admin("POST", "/api/v1/publish", { name, messages: [{ role: "user", content: "Dosage of {drug}?" }],
    commit_message: "v2", labels: ["production"] });
  assert.equal((await admin("GET", `/api/v1/fetch/${name}`)).body.version.number, 2);
  const again = await py.get(name, { variables: { drug: "aspirin" } });
  assert.equal(again.version, 1); // from the cache: no request until its TTL runs out
  const id = py.log({ provider: "openai", model: "gpt-4o", input: { messages: p.messages },
    output: { role: "assistant", content: "Twice a day." }, prompt: p.link(), tags: ["web"], metadata: { store: "s1" } });
  py.score(id, "medically_correct", 90, "checked");
  py.score(id, "follows_manual", 70);
  py.metadata(id, { reviewer: "薬剤師A" });
  assert.equal(await py.flush(10000), true);
  assert.equal(py.stats().rejected ?? 0, 0);
  const got = await admin("GET", `/api/v1/requests/${id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.prompt, name);
  assert.equal(got.body.version, 1);
  assert.deepEqual(got.body.metadata, { store: "s1", reviewer: "薬剤師A" });
  assert.deepEqual(got.body.scores.map((s) => [s.name, s.value]), [["follows_manual", 70], ["medically_correct", 90]]);
  assert.equal(got.body.scores.find((s) => s.name === "medically_correct").comment, "checked");
  const read = await fetch(`${URL_}/api/v1/requests/${id}`, { headers: { Authorization: `Bearer ${key.body.key}`, Origin: origin } });
  assert.equal(read.status, 403); // a key in a web page cannot read logs
});

test("live server: a redacted log is stored as the client redacted it", live, async () => {
  const py = new Promptyard({ baseUrl: URL_, apiKey: KEY, flushInterval: 10,
    redact: { detectors: { phone: { operator: "mask" }, person_name: { placeholder: "[患者]" } } } });
  const id = py.log({ provider: "openai", model: "m", input: { messages: [{ role: "user", content: "山田太郎様 090-1234-5678" }] },
    output: "折り返します", metadata: { patient: "山田太郎様" } });
  py.score(id, "ok", 80, "山田太郎様に確認");
  assert.equal(await py.flush(10000), true);
  const got = await admin("GET", `/api/v1/requests/${id}`);
  assert.equal(got.status, 200);
  assert.equal(got.body.input.messages[0].content, "[患者]様 ***-****-****");
  assert.deepEqual(got.body.metadata, { patient: "[患者]様" });
  assert.equal(got.body.scores[0].comment, "[患者]様に確認");
});
