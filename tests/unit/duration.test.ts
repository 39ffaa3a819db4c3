import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../functions/duration.ts';

describe('parseDuration (Go time.ParseDuration)', () => {
  const cases: Array<[string, number | undefined]> = [
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['1.5h', 5_400_000],
    ['250ms', 250],
    ['0', 0],
    ['', undefined],
    ['1d', undefined],
    ['-1h', undefined],
    ['h', undefined],
    ['1h ', undefined],
    ['12', undefined],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${JSON.stringify(text)} as ${ms}`, () => assert.equal(parseDuration(text), ms));
  }
  it('formats durations for messages', () => {
    assert.equal(formatDuration(12 * 3_600_000), '12h');
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(45_000), '45s');
  });
});
