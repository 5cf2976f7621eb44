// The port of the server's detectors against tests/vectors/redaction.json (written by the Python code,
// tests/vectors/make_redaction_vectors.py): the same spans, and the same redacted text, for every vector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { Promptyard } from "../src/index.js";
import { KINDS, PLACEHOLDERS, Redactor, find, findCodePoints } from "../src/redaction.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../../tests/vectors/redaction.json", import.meta.url), "utf8"));

test("the vectors cover every detector, astral characters and the empty text", () => {
  assert.deepEqual(KINDS, VECTORS.kinds);
  const seen = new Set(VECTORS.vectors.flatMap((v) => v.spans.map((s) => s[2])));
  assert.deepEqual([...seen].sort(), [...KINDS].sort());
  assert.ok(VECTORS.vectors.some((v) => /[\ud800-\udfff]/.test(v.text) && v.spans.length));
  assert.ok(VECTORS.vectors.some((v) => v.text === ""));
});

test("find: the server's spans for every vector (code points, and UTF-16 for slicing)", () => {
  for (const v of VECTORS.vectors) {
    const got = findCodePoints(v.text, v.kinds ?? null).map((s) => [s.start, s.end, s.kind]);
    assert.deepEqual(got, v.spans, v.name);
    const points = [...v.text];
    const values = find(v.text, v.kinds ?? null).map((s) => v.text.slice(s.start, s.end));
    assert.deepEqual(values, v.spans.map(([s, e]) => points.slice(s, e).join("")), v.name);
  }
});

test("find: unknown kinds are refused by name", () => {
  assert.throws(() => find("x", ["phone", "shoe_size"]), /unknown redaction kinds: shoe_size/);
});

test("the default policy: the server's redacted text and counts for every vector", () => {
  const red = new Redactor(true);
  assert.deepEqual(PLACEHOLDERS, VECTORS.placeholders);
  for (const v of VECTORS.vectors.filter((x) => x.redacted !== undefined)) {
    red.take();
    assert.equal(red.text(v.text), v.redacted, v.name);
    assert.deepEqual(red.take(), v.counts, v.name);
  }
});

test("other policies: mask, drop, own placeholders, detectors off, disabled", () => {
  assert.ok(VECTORS.policies.length >= 3);
  for (const p of VECTORS.policies) {
    const red = new Redactor(p.policy);
    for (const c of p.cases) {
      red.take();
      assert.equal(red.text(c.text), c.redacted, `${p.name}: ${c.text.slice(0, 40)}`);
      assert.deepEqual(red.take(), c.counts, `${p.name}: ${c.text.slice(0, 40)}`);
    }
  }
});

test("a policy the client cannot apply is refused with a clear error", () => {
  assert.throws(() => new Redactor({ detectors: { phone: { operator: "hash" } } }), /"hash" is not available in the JS client/);
  assert.throws(() => new Redactor({ custom: [{ name: "x", pattern: "a+" }] }), /custom patterns are applied by the server only/);
  assert.throws(() => new Redactor({ detectors: { shoe_size: {} } }), /detectors: unknown kind 'shoe_size'/);
  assert.throws(() => new Promptyard({ baseUrl: "http://127.0.0.1:9", redact: { enabled: "yes" } }), /enabled: must be true or false/);
});

test("redact: nothing original leaves the client, the caller's values are untouched", async () => {
  const bodies = [];
  const sink = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      bodies.push([req.url, data]);
      res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ accepted: 1, duplicates: 0, errors: [] }));
    });
  });
  await new Promise((r) => sink.listen(0, "127.0.0.1", r));
  const py = new Promptyard({ baseUrl: `http://127.0.0.1:${sink.address().port}`, apiKey: "k", flushInterval: 10, redact: true });
  const messages = [{ role: "user", content: "山田太郎様の電話は090-1234-5678です" }];
  const id = py.log({ provider: "openai", model: "m", input: { messages }, output: "taro@example.com 宛に送付。60mg 1日3回",
    tags: ["web", "tel:090-1234-5678"], metadata: { patient: "山田太郎様" }, error: new Error("no answer at 090-1234-5678"),
    prompt: { name: "p", version: 1, variables: { who: "山田太郎様" } }, routing: { label: "l", rule: "split", unit: "taro@example.com" },
    scores: [{ name: "ok", value: 1, comment: "山田太郎様に確認" }] });
  py.score(id, "helpful", 90, "山田太郎様 090-1234-5678 に折り返し");
  py.metadata(id, { callback: "090-1234-5678" });
  assert.equal(await py.flush(10000), true);
  sink.close();
  assert.deepEqual(bodies.map(([u]) => u).sort(), ["/api/v1/requests", "/api/v1/requests/metadata", "/api/v1/scores"]);
  for (const [, raw] of bodies) {
    for (const original of ["090-1234-5678", "山田", "taro@example.com"]) assert.ok(!raw.includes(original), `${original} in ${raw}`);
  }
  const log = JSON.parse(bodies.find(([u]) => u === "/api/v1/requests")[1]).requests[0];
  assert.equal(log.input.messages[0].content, "[氏名]様の電話は[電話番号]です");
  assert.equal(log.output, "[メールアドレス] 宛に送付。60mg 1日3回");
  assert.deepEqual(log.tags, ["web", "tel:[電話番号]"]);
  assert.deepEqual(log.metadata, { patient: "[氏名]様" });
  assert.deepEqual(log.error, { type: "Error", message: "no answer at [電話番号]" });
  assert.deepEqual(log.prompt.variables, { who: "[氏名]様" });
  assert.equal(log.routing.unit, "[メールアドレス]");
  assert.equal(log.scores[0].comment, "[氏名]様に確認");
  assert.equal(messages[0].content, "山田太郎様の電話は090-1234-5678です");
});
