// The plumbing of a wave's steps: each step's abort signal (AbortFanout, whose controllers are reused
// once a step is done), the operations' concurrency bound (opLimit) and the window's slots (WindowSlots).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortFanout } from '../../src/domain/abort-fanout.js';
import { opLimit, type OpCall, type OpRunner } from '../../src/engine/op-limit.js';
import { WindowSlots } from '../../src/engine/window-slots.js';

describe('AbortFanout', () => {
  it('aborts the children in flight, then its hooks, and every child made later', () => {
    const parent = new AbortController();
    const fanout = new AbortFanout([parent.signal]);
    const done = fanout.child();
    done.done();
    const a = fanout.child();
    const b = fanout.child();
    const order: string[] = [];
    a.signal.addEventListener('abort', () => order.push('a'));
    fanout.onAbort((reason) => order.push(`hook ${String(reason)}`));
    parent.abort('stop');
    assert.deepEqual(order, ['a', 'hook stop']);
    assert.equal(b.signal.reason, 'stop');
    assert.equal(fanout.child().signal.aborted, true);
    const late: unknown[] = [];
    fanout.onAbort((reason) => late.push(reason));
    assert.deepEqual(late, ['stop']);
  });

  it('reuses the controller of a child that is done, never one that aborted', () => {
    const fanout = new AbortFanout([]);
    const first = fanout.child();
    const signal = first.signal;
    first.done();
    const second = fanout.child();
    assert.equal(second.signal, signal, 'reused');
    assert.equal(second.signal.aborted, false);
    const own = new AbortController();
    const third = fanout.child(own.signal);
    own.abort('own');
    assert.equal(third.signal.reason, 'own');
    assert.equal(second.signal.aborted, false, 'only that child');
    third.done();
    assert.notEqual(fanout.child().signal, third.signal, 'an aborted controller is not reused');
  });
});

/** A limit of one slot, taken by a first call that runs until `finish()`. */
function busyLimit() {
  const limit = opLimit(1);
  const started: string[] = [];
  let finish!: () => void;
  const first = limit(
    async () => {
      started.push('first');
      await new Promise<void>((resolve) => (finish = resolve));
    },
    { signal: new AbortController().signal },
  );
  return { limit, started, first, finish: () => finish() };
}

const call = (): OpCall => ({ signal: new AbortController().signal });

describe('opLimit', () => {
  it('runs at once while a slot is free, then first come first served, skipping calls aborted meanwhile', async () => {
    const { limit, started, first, finish } = busyLimit();
    assert.deepEqual(started, ['first'], 'called at once');
    const aborted = new AbortController();
    const second = limit(async () => void started.push('second'), { signal: aborted.signal });
    const third = limit(async () => void started.push('third'), call());
    aborted.abort(new Error('gone'));
    finish();
    await first;
    await assert.rejects(second, /gone/);
    await third;
    assert.deepEqual(started, ['first', 'third']);
  });
  it('queues a runner (a step that is its own entry) in the same line, hands it its call once sent, and frees the slot when the runner says', async () => {
    const { limit, started, first, finish } = busyLimit();
    const answers: Promise<unknown>[] = [];
    const held: boolean[] = [];
    const runner = (name: string, signal = new AbortController().signal): OpRunner => {
      const r: OpRunner = {
        opNext: undefined,
        opHeld: false,
        opCall: { signal },
        opFn: async () => {
          started.push(name);
          return name;
        },
        // As an update step does: its first reaction to the call gives the slot back when the limit said so.
        opStarted: (answer) => {
          answers.push(answer);
          held.push(r.opHeld);
          const release = () => {
            if (!r.opHeld) return;
            r.opHeld = false;
            limit.release();
          };
          answer.then(release, release);
        },
      };
      return r;
    };
    assert.equal(limit.run(runner('queued')), undefined, 'no slot free: it queues, with no promise');
    const aborted = new AbortController();
    assert.equal(limit.run(runner('aborted', aborted.signal)), undefined);
    const after = limit(async () => void started.push('after'), call());
    aborted.abort(new Error('gone'));
    finish();
    await first;
    await after;
    assert.deepEqual(started, ['first', 'queued', 'after'], 'first come first served, the aborted one never sent');
    assert.deepEqual(held, [true, false], 'the sent call holds its slot; the limit freed the aborted one itself');
    assert.equal(await answers[0], 'queued');
    await assert.rejects(answers[1]!, /gone/);
    const free = runner('free');
    const sent = limit.run(free);
    assert.ok(sent, 'a free slot: sent at once, its promise returned');
    assert.equal(free.opHeld, true);
    assert.equal(await sent, 'free');
    // Until the runner gives its slot back, the next call waits.
    const later = limit(async () => void started.push('later'), call());
    await Promise.resolve();
    assert.deepEqual(started.at(-1), 'free');
    free.opHeld = false;
    limit.release();
    await later;
    assert.deepEqual(started.at(-1), 'later');
  });
});

describe('WindowSlots', () => {
  it('refuses the waiting steps and any later one once stopped', async () => {
    const slots = new WindowSlots(1);
    await slots.acquire();
    const waiting = slots.acquire();
    assert.equal(slots.queued, 1);
    slots.stop(new Error('wave stopped'));
    await assert.rejects(waiting, /wave stopped/);
    assert.equal(slots.queued, 0);
    await assert.rejects(slots.acquire(), /wave stopped/);
  });

  it('grants waiters in the order they entered as slots free, and refuses the rest when stopped', () => {
    const slots = new WindowSlots(1);
    const told: string[] = [];
    const waiter = (name: string) => ({
      granted: () => void told.push(`${name} granted`),
      refused: (reason: unknown) => void told.push(`${name} refused: ${(reason as Error).message}`),
    });
    slots.enter(waiter('a'));
    slots.enter(waiter('b'));
    slots.enter(waiter('c'));
    assert.deepEqual(told, ['a granted']);
    assert.equal(slots.queued, 2);
    slots.release();
    assert.deepEqual(told, ['a granted', 'b granted']);
    slots.stop(new Error('wave stopped'));
    slots.enter(waiter('d'));
    assert.deepEqual(told, ['a granted', 'b granted', 'c refused: wave stopped', 'd refused: wave stopped']);
    assert.equal(slots.queued, 0);
  });
});
