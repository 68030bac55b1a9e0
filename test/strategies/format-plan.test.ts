import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildPlan, formatPlan } from '../../src/strategies/index.js';
import { input, machines, settings } from './fixtures.js';

describe('formatPlan', () => {
  it('prints a header, notes, one line per wave and the estimate', () => {
    const plan = buildPlan(
      input(
        [...machines(6), ...machines(2, 'worker')],
        { web: 6, worker: 2 },
        settings('waves', { maxSurge: { count: 1 }, maxUnavailable: { count: 1 } }),
      ),
    );
    const text = formatPlan(plan);
    assert.equal(
      text,
      [
        'plan for mechanic/production (deploy d1)',
        '  strategy   waves',
        '  target     v3',
        '  previous   v2',
        '  machines   6 to update, 2 to create, 2 to destroy',
        '  waves      4',
        'notes',
        '  - web: 6 serving, 6 desired (0 on v3, 6 on v2)',
        '  - worker: 2 serving, 2 desired (0 on v3, 2 on v2)',
        '  - surge capacity: web 1, worker 1',
        'waves',
        '  wave 0 surge: 2 creates (web 1, worker 1)',
        '    from here the waves flow as one rolling window: each group keeps desired − max_unavailable in traffic (slack now: 1 web, 1 worker; each new machine adds one)',
        '  wave 1 batch: 3 updates (web 2, worker 1), 1 destroy (worker 1)',
        '  wave 2 batch: 2 updates (web 2)',
        '  wave 3 batch: 1 update (web 1), 1 destroy (web 1)',
        'estimate',
        '  peak extra machines  2',
        '  unavailable peak     1 (most machines of one group taken out of traffic at once)',
        '  expected API calls   41 (list 1, create 2, update 6, cordon 8, uncordon 8, stop 2, destroy 2, wait 12)',
      ].join('\n'),
    );
  });

  it('stays compact for 10,000 machines: identical waves fold into one line', () => {
    const plan = buildPlan(
      input(
        [...machines(8000), ...machines(2000, 'worker')],
        { web: 8000, worker: 2000 },
        settings('rolling', { maxUnavailable: { fraction: 0.1 } }),
      ),
    );
    const text = formatPlan(plan);
    assert.ok(text.split('\n').length < 25, text);
    assert.match(text, /waves 1–9 batch, each: 1,000 updates \(web 800, worker 200\)/);
    assert.match(text, /machines {3}10,000 to update/);
  });

  it('verbose lists every step', () => {
    const plan = buildPlan(input(machines(2), { web: 2 }, settings('bluegreen', { pauseBeforeCutover: true })));
    const text = formatPlan(plan, { verbose: true });
    assert.match(text, /- create web green d1:web:green:0 on v3 \(cordoned, gate checks\)/);
    assert.match(text, /- pause: pause_before_cutover/);
    assert.match(text, /- cutover: into traffic launch d1:web:green:0, launch d1:web:green:1; out web-0, web-1/);
    assert.match(text, /- destroy web web-0 \(drain\)/);
  });

  it('says when there is nothing to do', () => {
    const text = formatPlan(buildPlan(input(machines(2, 'web', 'v3'), { web: 2 }, settings('rolling'))));
    assert.match(text, /machines {3}nothing to do/);
    assert.match(text, /previous {3}\(none\)/);
  });
});
