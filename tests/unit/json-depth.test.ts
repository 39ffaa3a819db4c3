// adapters/http/json.ts: the nesting guard in front of JSON.parse, against the real fixtures, the
// edges of strings and escapes, and a seeded generator with the nesting depth computed from the value.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MAX_JSON_DEPTH, jsonNestingError } from '../../adapters/http/json.ts';

const fixtures = new URL('../fixtures/', import.meta.url);
const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

/** Depth of objects and arrays, as the guard counts it (a scalar is 0). */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

/** Deterministic (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings full of what could fool a scanner: brackets, quotes, backslashes, escapes.
const TRICKY = ['[', ']', '{', '}', '"', '\\', '\\"', '"[', '\\\\', '\u2028', 'ü', '[{"a":', ''];

function generate(next: () => number, budget: number): unknown {
  const roll = next();
  if (budget <= 0 || roll < 0.3) {
    const pick = Math.floor(next() * 4);
    if (pick === 0)
      return Array.from({ length: 1 + Math.floor(next() * 3) }, () => TRICKY[Math.floor(next() * TRICKY.length)]).join(
        '',
      );
    if (pick === 1) return Math.floor(next() * 1000);
    if (pick === 2) return next() < 0.5;
    return null;
  }
  const n = Math.floor(next() * 3) + (roll < 0.5 ? 0 : 1);
  const children = Array.from({ length: n }, () => generate(next, budget - 1));
  if (roll < 0.65) return children;
  return Object.fromEntries(children.map((child, i) => [`${TRICKY[i % TRICKY.length]}k${i}`, child]));
}

describe('jsonNestingError', () => {
  it('accepts every recorded AdmissionReview fixture', () => {
    const files = readdirSync(fixtures).filter((name) => name.endsWith('.json'));
    assert.ok(files.length >= 5);
    for (const name of files)
      assert.equal(jsonNestingError(readFileSync(new URL(name, fixtures), 'utf8')), undefined, name);
  });

  it(`accepts nesting of exactly ${MAX_JSON_DEPTH} levels and refuses one more, saying where`, () => {
    assert.equal(jsonNestingError(nested(MAX_JSON_DEPTH)), undefined);
    assert.equal(jsonNestingError(nested(MAX_JSON_DEPTH, '{"a":', '}').replace(/\{"a":\}/, '{}')), undefined);
    const message = jsonNestingError(nested(MAX_JSON_DEPTH + 1));
    assert.match(
      message ?? '',
      new RegExp(`deeper than ${MAX_JSON_DEPTH} levels \\(at character ${MAX_JSON_DEPTH}\\)`),
    );
    assert.match(jsonNestingError(`{"a":${nested(MAX_JSON_DEPTH)}}`) ?? '', /deeper than 64/);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const inString = JSON.stringify({ a: '['.repeat(1000), b: '\\"[[[[', c: '\\' });
    assert.equal(jsonNestingError(inString, 1), undefined);
    // A string ending in a backslash closes at the next quote: what follows is counted again.
    assert.equal(
      jsonNestingError(JSON.stringify(['\\', [[]]]), 2),
      'request body nests JSON deeper than 2 levels (at character 7); an AdmissionReview never does, send one from the kube-apiserver',
    );
  });

  it('agrees with the depth of 2,000 generated values (seeded)', () => {
    const next = random(20260413);
    for (let n = 0; n < 2000; n++) {
      const value = generate(next, 1 + Math.floor(next() * 9));
      const text = JSON.stringify(value, null, n % 3 === 0 ? 1 : undefined);
      const depth = depthOf(value);
      for (const limit of [Math.max(0, depth - 1), depth]) {
        assert.equal(
          jsonNestingError(text, limit) === undefined,
          depth <= limit,
          `limit ${limit}, depth ${depth}: ${text}`,
        );
      }
    }
  });

  it('refuses 3 MiB of brackets in one fast pass', () => {
    const started = performance.now();
    assert.notEqual(jsonNestingError('['.repeat(3 * 1024 * 1024)), undefined);
    // A 3 MiB review that is flat is scanned end to end.
    assert.equal(jsonNestingError(JSON.stringify({ a: 'x'.repeat(3 * 1024 * 1024 - 16) })), undefined);
    assert.ok(performance.now() - started < 500, `took ${Math.round(performance.now() - started)} ms`);
  });
});
