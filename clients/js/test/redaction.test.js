// The port of the server's detectors against tests/vectors/redaction.json (written by the Python code,
// tests/vectors/make_redaction_vectors.py): the same spans, and the same redacted text, for every vector.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { KINDS, find, findCodePoints } from "../src/redaction.js";

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
