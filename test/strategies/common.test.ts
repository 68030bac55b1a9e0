// Rules every strategy shares: what is done, what is a leftover, launch ids, previous, removed groups.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STRATEGIES } from '../../src/domain/types.js';
import { buildPlan, PlanError } from '../../src/strategies/index.js';
import { input, machine, machines, settings, shape } from './fixtures.js';

describe('plans from the observed fleet', () => {
  it('destroys leftover extras first, without draining; in their own wave when the first wave creates', () => {
    const fleet = [
      ...machines(2),
      machine('x0', { role: 'surge', release: 'v3', cordoned: true, deployId: 'd0', launchId: 'd0:web:surge:0' }),
      machine('x1', { role: 'green', release: 'v3', cordoned: true, deployId: 'd1', launchId: 'd1:web:green:0' }),
      machine('x2', {
        role: 'canary',
        release: 'v3',
        cordoned: true,
        deployId: 'd1',
        launchId: 'd1:web:canary:0',
        state: 'failed',
      }),
    ];
    const rolling = buildPlan(input(fleet, { web: 2 }, settings('rolling')));
    assert.deepEqual(shape(rolling), ['spearhead: d(x0,nd) d(x1,nd) d(x2,nd) u(web-0)', 'batch: u(web-1)']);
    assert.match(
      rolling.notes.join('\n'),
      /leftover extra machines destroyed first: 1 left by another deploy, 1 of a role this strategy does not use, 1 failed/,
    );
    const waves = buildPlan(input(fleet, { web: 2 }, settings('waves')));
    assert.deepEqual(shape(waves), [
      'destroy: d(x0,nd) d(x1,nd) d(x2,nd)',
      'surge: c(web:surge:0,p)',
      'batch: u(web-0) d(web-1)',
    ]);
  });

  it('leaves other environments and release-command machines alone', () => {
    const fleet = [
      ...machines(1),
      machine('other', { env: 'staging' }),
      machine('rc', { role: 'release-command', release: 'v3', deployId: 'd1', launchId: 'd1:rc' }),
    ];
    for (const strategy of STRATEGIES) {
      const plan = buildPlan(input(fleet, { web: 1 }, settings(strategy)));
      const named = JSON.stringify(plan.waves);
      assert.ok(!named.includes('"other"') && !named.includes('"rc"'), strategy);
    }
  });

  it('launch ids are deterministic and skip every launch id the fleet carries', () => {
    const fleet = [
      ...machines(2),
      machine('old', { role: 'green', release: 'v2', cordoned: true, deployId: 'd1', launchId: 'd1:web:green:0' }),
    ];
    const plan = buildPlan(input(fleet, { web: 2 }, settings('bluegreen')));
    assert.deepEqual(shape(plan)[1], 'create: c(web:green:1) c(web:green:2)');
    assert.deepEqual(buildPlan(input(fleet, { web: 2 }, settings('bluegreen'))), plan);
  });

  it('previous is the release most serving machines not on the target run', () => {
    const fleet = [
      machine('a', { release: 'v1' }),
      machine('b', { release: 'v2' }),
      machine('c', { release: 'v2' }),
      machine('d', { release: 'v3' }),
      machine('e', { release: 'v3' }),
      machine('f', { release: 'v3' }),
    ];
    // Most machines already run the target (a resumed deploy): rollback still goes to v2.
    assert.equal(buildPlan(input(fleet, { web: 6 }, settings('rolling'))).previous, 'v2');
  });

  it('a failed machine on the target is repaired, a stopped one on the target is done', () => {
    const fleet = [
      machine('a', { release: 'v3', state: 'failed' }),
      machine('b', { release: 'v3', state: 'stopped' }),
      machine('c', { release: 'v3' }),
    ];
    assert.deepEqual(shape(buildPlan(input(fleet, { web: 3 }, settings('rolling')))), ['spearhead: u(a)']);
  });

  it('refuses malformed input', () => {
    const twice = {
      ...input([], {}, settings('rolling')),
      groups: [
        { name: 'web', count: 1 },
        { name: 'web', count: 2 },
      ],
    };
    assert.throws(
      () => buildPlan(twice),
      (err: unknown) => err instanceof PlanError && /listed twice/.test(err.message),
    );
    assert.throws(() => buildPlan(input([], { web: -1 }, settings('rolling'))), /count must be a whole number/);
  });
});
