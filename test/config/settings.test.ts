import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProcessGroup, StrategyName } from '../../src/domain/types.js';
import { parseConfig } from '../../src/config/load.js';
import { connectionBudgetCap, resolveStrategySettings } from '../../src/config/settings.js';
import type { EnvironmentConfig } from '../../src/config/types.js';
import { DEFAULT_SIM_OPTIONS } from '../../src/providers/sim/options.js';
import { BASE, configError } from './helpers.js';

const GROUPS: ProcessGroup[] = [
  { name: 'web', count: 400 },
  { name: 'worker', count: 100 },
];

function env(deploy: EnvironmentConfig['deploy'] = {}, strategy: StrategyName = 'rolling'): EnvironmentConfig {
  return {
    name: 'test',
    provider: 'sim',
    trigger: null,
    initiation: 'manual',
    allowCli: false,
    vars: {},
    strategy,
    strategySource: 'test',
    deploy,
    sim: DEFAULT_SIM_OPTIONS,
    local: {},
    fly: {},
    releaseSteps: [],
    analysis: { entries: [] },
  };
}

describe('resolveStrategySettings defaults', () => {
  it('gives rolling, canary and immediate max_unavailable 0.33', () => {
    for (const s of ['rolling', 'canary', 'immediate'] as const) {
      assert.deepEqual(resolveStrategySettings(env(), GROUPS, s).maxUnavailable, { fraction: 0.33 }, s);
    }
  });

  it('keeps full capacity for waves and bluegreen', () => {
    assert.deepEqual(resolveStrategySettings(env(), GROUPS, 'waves').maxUnavailable, { count: 0 });
    assert.deepEqual(resolveStrategySettings(env(), GROUPS, 'bluegreen').maxUnavailable, { count: 0 });
  });

  it('defaults max_surge to 10% for waves and uses each other strategy’s own extras', () => {
    assert.deepEqual(resolveStrategySettings(env(), GROUPS, 'waves').maxSurge, { fraction: 0.1 });
    assert.deepEqual(resolveStrategySettings(env(), GROUPS, 'bluegreen').maxSurge, { fraction: 1 });
    assert.deepEqual(resolveStrategySettings(env(), GROUPS, 'canary').maxSurge, { count: 1 });
    assert.deepEqual(resolveStrategySettings(env({ maxSurge: { count: 7 } }), GROUPS, 'rolling').maxSurge, {
      count: 0,
    });
    assert.deepEqual(resolveStrategySettings(env({ maxSurge: { count: 7 } }), GROUPS, 'waves').maxSurge, { count: 7 });
  });

  it('fills the remaining defaults and uses the environment’s strategy when none is given', () => {
    const s = resolveStrategySettings(env({}, 'immediate'), GROUPS);
    assert.deepEqual(s, {
      strategy: 'immediate',
      maxUnavailable: { fraction: 0.33 },
      maxSurge: { count: 0 },
      maxConcurrency: 256,
      waitTimeoutMs: 300_000,
      convergenceTimeoutMs: 600_000,
      onFailure: 'rollback',
      onAbort: 'rollback',
      pauseBeforeCutover: false,
      drainTimeoutMs: 10_000,
    });
    assert.equal('maxExtraTotal' in s, false, 'no connection budget, no cap');
  });

  it('keeps values that are set', () => {
    const s = resolveStrategySettings(
      env({
        maxUnavailable: { count: 5 },
        maxConcurrency: 8,
        waitTimeoutMs: 1000,
        onFailure: 'halt',
        pauseBeforeCutover: true,
        drainTimeoutMs: 0,
      }),
      GROUPS,
      'bluegreen',
    );
    assert.deepEqual(s.maxUnavailable, { count: 5 });
    assert.equal(s.maxConcurrency, 8);
    assert.equal(s.waitTimeoutMs, 1000);
    assert.equal(s.onFailure, 'halt');
    assert.equal(s.pauseBeforeCutover, true);
    assert.equal(s.drainTimeoutMs, 0);
  });
});

describe('connection budget', () => {
  it('caps extra machines at the connections left after the desired fleet', () => {
    const s = resolveStrategySettings(
      env({ connectionBudget: { maxConnections: 6000, perMachine: 10, reserved: 500 } }),
      GROUPS,
      'bluegreen',
    );
    // floor((6000 - 500) / 10) = 550 machines; 500 desired → 50 extra.
    assert.equal(s.maxExtraTotal, 50);
    assert.equal(
      s.surgeReason,
      'connection budget: 6000 connections (500 reserved) / 10 per machine = 550 machines; fleet is 500 → 50 extra machines allowed',
    );
  });

  it('never goes below zero and uses the issue’s wording', () => {
    const r = connectionBudgetCap({ maxConnections: 2000, perMachine: 10, reserved: 0 }, GROUPS);
    assert.equal(r.maxExtraTotal, 0);
    assert.equal(
      r.reason,
      'connection budget: 2000 connections (0 reserved) / 10 per machine = 200 machines; fleet is 500 → 0 extra machines allowed',
    );
  });

  it('rounds machines down and measures against the groups passed in', () => {
    const r = connectionBudgetCap({ maxConnections: 109, perMachine: 10, reserved: 0 }, [{ name: 'web', count: 9 }]);
    assert.equal(r.maxExtraTotal, 1);
    assert.match(r.reason, /= 10 machines; fleet is 9 → 1 extra machine allowed$/);
  });
});

describe('settings that cannot replace a machine', () => {
  it('rejects waves with max_unavailable 0 and max_surge 0', () => {
    const err = configError(() =>
      resolveStrategySettings(env({ maxUnavailable: { count: 0 }, maxSurge: { count: 0 } }), GROUPS, 'waves'),
    );
    assert.match(err.problem, /max_surge = 0 together with .*max_unavailable = 0/);
    assert.equal(err.key, 'environments.test.deploy.max_surge');
  });

  it('rejects waves when the connection budget leaves no extra machine and nothing may be unavailable', () => {
    const err = configError(() =>
      resolveStrategySettings(
        env({ connectionBudget: { maxConnections: 2000, perMachine: 10, reserved: 0 } }),
        GROUPS,
        'waves',
      ),
    );
    assert.match(err.problem, /0 extra machines allowed/);
    assert.equal(err.key, 'environments.test.deploy.connection_budget');
    // With room to take machines out of service, waves can proceed in place.
    const ok = resolveStrategySettings(
      env({ maxUnavailable: { count: 1 }, connectionBudget: { maxConnections: 2000, perMachine: 10, reserved: 0 } }),
      GROUPS,
      'waves',
    );
    assert.equal(ok.maxExtraTotal, 0);
  });

  it('rejects rolling with max_unavailable 0', () => {
    const err = configError(() => resolveStrategySettings(env({ maxUnavailable: { count: 0 } }), GROUPS, 'rolling'));
    assert.equal(err.key, 'environments.test.deploy.max_unavailable');
  });

  it('locates the offending keys in the file when a CLI --strategy override makes settings invalid', () => {
    const c = parseConfig(
      `${BASE}[environments.production]\nprovider = "sim"\nvars = { DEPLOY_STRATEGY = "bluegreen" }\n[environments.production.deploy]\nmax_surge = 0\n`,
      'runway.toml',
    );
    const prod = c.environments.production!;
    assert.equal(resolveStrategySettings(prod, c.app.processes).strategy, 'bluegreen', 'valid as configured');
    const err = configError(() => resolveStrategySettings(prod, c.app.processes, 'waves'));
    assert.equal(err.file, 'runway.toml');
    assert.equal(err.key, 'environments.production.deploy.max_surge');
    assert.equal(err.line, 11);
    // A copy of the environment (as a CLI override might make) is still located.
    const copy = configError(() => resolveStrategySettings({ ...prod, strategy: 'waves' }, c.app.processes));
    assert.equal(copy.line, 11);
  });

  it('reports an app-level mistake once, not once per environment', () => {
    const err = configError(() =>
      parseConfig(
        `[org]\nvars = { DEPLOY_STRATEGY = "waves" }\n${BASE}[app.deploy]\nmax_surge = "0%"\n[environments.a]\nprovider = "sim"\n[environments.b]\nprovider = "sim"\n`,
        'runway.toml',
      ),
    );
    assert.equal(err.key, 'app.deploy.max_surge');
    assert.equal(err.line, 10);
    assert.equal(err.others.length, 0);
  });
});
