import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { RealClock, VirtualClock, type TimerHandle } from '../../src/domain/clock.js';
import { until } from '../support/wait.js';

describe('VirtualClock timers', () => {
  it('fires timers in time order, ties in the order they were set, and never a cancelled one', async () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    clock.after(30, () => fired.push('c@30'));
    clock.after(10, () => fired.push('a@10'));
    const cancelled = clock.after(20, () => fired.push('cancelled@20'));
    clock.after(10, () => fired.push('b@10'));
    cancelled.cancel();
    cancelled.cancel();
    await until(() => fired.length === 3, 'the three live timers fired');
    assert.deepEqual(fired, ['a@10', 'b@10', 'c@30']);
    assert.equal(clock.now(), 30);
  });

  it('drops cancelled timers once they are most of the heap, and the rest fire in the same order', async () => {
    const clock = new VirtualClock(0);
    const fired: number[] = [];
    const expected: number[] = [];
    const cancels: TimerHandle[] = [];
    // 3,000 timers at pseudo-random times with many ties; two in three are cancelled (a deploy's
    // wait timeouts), which makes the heap drop them before their time.
    for (let i = 0; i < 3000; i++) {
      const at = (i * 7919) % 997;
      const timer = clock.after(at, () => fired.push(i));
      if (i % 3 === 0) expected.push(i);
      else cancels.push(timer);
    }
    for (const timer of cancels) timer.cancel();
    assert.ok(clock.pending < 3000, `cancelled timers were dropped (${clock.pending} left of 3000)`);
    // A timer cancelled after it was dropped, or after it fired, changes nothing.
    cancels[0]!.cancel();
    await until(() => fired.length === expected.length, 'every live timer fired');
    expected.sort((a, b) => ((a * 7919) % 997) - ((b * 7919) % 997) || a - b);
    assert.deepEqual(fired, expected);
    assert.equal(clock.pending, 0);
  });
});

describe('VirtualClock instants', () => {
  it('runs every microtask an instant set off, however long the chain, before time moves on', async () => {
    const clock = new VirtualClock(0);
    const seen: string[] = [];
    clock.after(10, () => {
      // A long promise chain, as a deploy's continuations make, and a tick the timer queued.
      void (async () => {
        for (let i = 0; i < 1000; i++) await null;
        seen.push(`chain@${clock.now()}`);
      })();
      process.nextTick(() => seen.push(`tick@${clock.now()}`));
    });
    clock.after(11, () => seen.push(`next@${clock.now()}`));
    await until(() => seen.length === 3, 'both instants ran');
    assert.deepEqual(seen, ['tick@10', 'chain@10', 'next@11']);
  });

  it('gives the event loop a turn while a simulation keeps going (real I/O, immediates)', async () => {
    const clock = new VirtualClock(0);
    // A simulation that never runs out of instants until told to stop.
    let stop = false;
    const tick = (): void => {
      if (!stop) clock.after(1, tick);
    };
    clock.after(1, tick);
    const at = await new Promise<number>((resolve) => setImmediate(() => resolve(clock.now())));
    stop = true;
    assert.ok(at >= 1 && at <= 64, `an immediate ran after ${at} instants`);
  });
});

describe('sleeps on one signal', () => {
  // The changes of a bluegreen cutover share one step's signal, and their retries all sleep on it.
  for (const [name, make] of [
    ['VirtualClock', () => new VirtualClock(0)],
    ['RealClock', () => new RealClock()],
  ] as const) {
    it(`${name}: twenty sleeps put one abort listener on it (no leak warning), and an abort ends them all`, async () => {
      const clock = make();
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.name);
      process.on('warning', onWarning);
      const abort = new AbortController();
      try {
        const sleeps = Array.from({ length: 20 }, () => clock.sleep(3_600_000, abort.signal));
        assert.equal(getEventListeners(abort.signal, 'abort').length, 1);
        abort.abort(new Error('stopped'));
        const results = await Promise.allSettled(sleeps);
        assert.ok(results.every((r) => r.status === 'rejected' && /stopped/.test(String(r.reason))));
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off('warning', onWarning);
        abort.abort();
      }
      assert.deepEqual(
        warnings.filter((w) => w === 'MaxListenersExceededWarning'),
        [],
      );
    });
  }

  it('a sleep that ended no longer listens: a later abort rejects only the sleeps still running', async () => {
    const clock = new VirtualClock(0);
    const abort = new AbortController();
    const short = clock.sleep(10, abort.signal);
    const long = clock.sleep(1_000_000, abort.signal);
    await short;
    abort.abort(new Error('stopped'));
    await assert.rejects(long, /stopped/);
    assert.equal(await short, undefined);
  });
});
