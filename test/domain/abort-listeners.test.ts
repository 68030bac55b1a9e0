import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listenForAbort, stopListening, type AbortHandler } from '../../src/domain/abort-listeners.js';

function handler(name: string, calls: string[], also?: () => void): AbortHandler {
  return {
    handleEvent() {
      calls.push(name);
      also?.();
    },
  };
}

describe('abort listeners shared per signal', () => {
  it('calls the handlers listening when the signal aborts, once each, in the order they began', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const a = handler('a', calls);
    const b = handler('b', calls);
    const c = handler('c', calls);
    listenForAbort(controller.signal, a);
    listenForAbort(controller.signal, b);
    listenForAbort(controller.signal, c);
    stopListening(controller.signal, b);
    listenForAbort(controller.signal, b);
    controller.abort();
    controller.abort();
    assert.deepEqual(calls, ['a', 'c', 'b']);
  });

  it('keeps the order they began when the oldest stops and others come and go', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => handler(name, calls));
    listenForAbort(controller.signal, a!);
    listenForAbort(controller.signal, b!);
    stopListening(controller.signal, a!);
    listenForAbort(controller.signal, c!);
    stopListening(controller.signal, b!);
    stopListening(controller.signal, c!);
    listenForAbort(controller.signal, d!);
    listenForAbort(controller.signal, a!);
    controller.abort();
    assert.deepEqual(calls, ['d', 'a']);
  });

  it('skips a handler another one stopped before its turn, and keeps signals apart', () => {
    const one = new AbortController();
    const other = new AbortController();
    const calls: string[] = [];
    const second = handler('second', calls);
    listenForAbort(
      one.signal,
      handler('first', calls, () => stopListening(one.signal, second)),
    );
    listenForAbort(one.signal, second);
    listenForAbort(other.signal, handler('other', calls));
    one.abort();
    assert.deepEqual(calls, ['first']);
    other.abort();
    assert.deepEqual(calls, ['first', 'other']);
  });

  it('serves a signal reused by later listeners with its one EventTarget listener', () => {
    const controller = new AbortController();
    let added = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    controller.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      add(...args);
    }) as typeof add;
    const calls: string[] = [];
    for (let i = 0; i < 100; i++) {
      const h = handler(`h${i}`, calls);
      listenForAbort(controller.signal, h);
      stopListening(controller.signal, h);
    }
    listenForAbort(controller.signal, handler('last', calls));
    controller.abort();
    assert.equal(added, 1);
    assert.deepEqual(calls, ['last']);
  });
});
