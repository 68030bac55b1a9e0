import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationText, parseBudget, parseDurationMs } from '../../src/config/values.js';

describe('parseDurationMs', () => {
  it('reads units, compounds and bare seconds', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('30s'), 30_000);
    assert.equal(parseDurationMs('5m'), 300_000);
    assert.equal(parseDurationMs('1h'), 3_600_000);
    assert.equal(parseDurationMs('1h30m'), 5_400_000);
    assert.equal(parseDurationMs('1m 30s'), 90_000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs(2), 2000);
    assert.equal(parseDurationMs('2'), 2000);
  });

  it('rejects negative, unknown units and non-durations', () => {
    assert.throws(() => parseDurationMs(-1), /non-negative/);
    assert.throws(() => parseDurationMs('-5s'), /invalid duration/);
    assert.throws(() => parseDurationMs('3d'), /invalid duration "3d"/);
    assert.throws(() => parseDurationMs(true), /expected a duration/);
  });

  it('round-trips through durationText', () => {
    for (const ms of [0, 250, 1500, 30_000, 90_000, 150_000, 3_600_000, 5_430_000]) {
      assert.equal(parseDurationMs(durationText(ms)), ms, durationText(ms));
    }
    assert.equal(durationText(150_000), '2m30s');
  });
});

describe('parseBudget', () => {
  it('reads fractions, counts and percentages', () => {
    assert.deepEqual(parseBudget(0.33), { fraction: 0.33 });
    assert.deepEqual(parseBudget(1), { count: 1 });
    assert.deepEqual(parseBudget(40), { count: 40 });
    assert.deepEqual(parseBudget('10%'), { fraction: 0.1 });
    assert.deepEqual(parseBudget('100%'), { fraction: 1 });
    assert.deepEqual(parseBudget(0), { count: 0 });
    assert.deepEqual(parseBudget('0%'), { count: 0 });
  });

  it('rejects negatives, fractions above 1 and non-whole counts', () => {
    assert.throws(() => parseBudget(-0.5), /negative/);
    assert.throws(() => parseBudget('101%'), /exceed 100%/);
    assert.throws(() => parseBudget(2.5), /whole/);
    assert.throws(() => parseBudget('ten'), /invalid budget/);
  });
});
