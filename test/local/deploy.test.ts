// Deploys end to end on real processes: the executor (as the CLI runs it) drives the local provider,
// 5 machines (web 4, worker 1), with traffic through runway's proxy the whole time. Every strategy
// goes v1 → v2 with no failed request; a machine killed mid-deploy, a release that never turns
// healthy and a release whose command does not exist each end as they must, the old release serving.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { getEnvironment, loadConfig } from '../../src/config/load.js';
import { resolveStrategySettings } from '../../src/config/settings.js';
import type { RunwayConfig, EnvironmentConfig } from '../../src/config/types.js';
import { RealClock } from '../../src/domain/clock.js';
import { STRATEGIES, type Machine, type StrategyName, type StrategySettings } from '../../src/domain/types.js';
import { runDeploy } from '../../src/engine/executor.js';
import type { DeploySummary } from '../../src/engine/summary.js';
import { localAppConfig } from '../../src/providers/local/app-config.js';
import { LocalProvider } from '../../src/providers/local/local-provider.js';
import type { Store } from '../../src/store/contract.js';
import { openStore } from '../../src/store/open-store.js';
import { expectNoLeftovers, localProject, processGroupOf, taggedProcesses } from '../providers/local-fixtures.js';
import { Load } from './load.js';

const TAG = randomUUID();
const VERSIONS = ['v1', 'v2', 'v3', 'v-broken', 'v-bootfail', 'v-nocmd'];
/** Requests answered before a deploy starts, and again after it ends. */
const TRAFFIC_AROUND = 20;

after(() => expectNoLeftovers(TAG));

describe('local deploys under traffic', () => {
  let dir: string;
  let config: RunwayConfig;
  let env: EnvironmentConfig;
  let provider: LocalProvider;
  let store: Store;
  let deploys = 0;
  const scope = { app: 'shop', env: 'test' };

  async function setUp(deploy = ''): Promise<void> {
    const project = localProject({ web: 4, worker: 1, tag: TAG, deploy });
    dir = project.dir;
    config = loadConfig(project.config);
    env = getEnvironment(config, 'test');
    provider = await LocalProvider.open(localAppConfig(config, env));
    store = await openStore(':memory:', dir);
    for (const version of VERSIONS)
      await store.createRelease('shop', { version, image: `releases/${version}`, createdAtMs: 0 });
  }

  function settings(strategy: StrategyName = 'rolling'): StrategySettings {
    return resolveStrategySettings(env, config.app.processes, strategy);
  }

  async function deploy(
    version: string,
    s: StrategySettings,
    onEvent?: Parameters<LocalProvider['subscribe']>[1],
  ): Promise<DeploySummary> {
    const deployId = `dep_local${++deploys}`;
    await store.createDeploy({
      id: deployId,
      ...scope,
      release: version,
      previousRelease: null,
      strategy: s.strategy,
      initiator: 'test',
      responsible: 'test',
      trigger: 'cli',
      reason: null,
      plan: null,
      createdAtMs: Date.now(),
    });
    const unsubscribe = onEvent ? provider.subscribe(scope, onEvent) : undefined;
    try {
      return await runDeploy(
        { provider, store, clock: new RealClock(), pollMs: 200 },
        {
          deployId,
          scope,
          target: { version, image: `releases/${version}`, createdAtMs: 0 },
          groups: config.app.processes,
          settings: s,
          findRelease: (v) => store.getRelease('shop', v),
        },
      );
    } finally {
      unsubscribe?.();
    }
  }

  /** Machines in traffic by release, and nothing else in the fleet. */
  async function serving(): Promise<Record<string, number>> {
    const fleet = await provider.list(scope);
    const out: Record<string, number> = {};
    for (const m of fleet) {
      assert.equal(m.role, 'serving', `no extra machine is left (${m.id} is ${m.role})`);
      assert.equal(m.state, 'started', `${m.id} is started`);
      assert.equal(m.health, 'passing', `${m.id} passes its checks`);
      assert.equal(m.cordoned, false, `${m.id} is in traffic`);
      out[m.release] = (out[m.release] ?? 0) + 1;
    }
    return out;
  }

  const pids = () => new Map(provider.processes().map((p) => [p.id, p.pid]));

  beforeEach(() => {
    deploys = 0;
  });

  afterEach(async () => {
    await provider?.shutdown();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const EXTRA_PEAK: Record<StrategyName, [number, number]> = {
    immediate: [0, 0],
    rolling: [0, 0],
    bluegreen: [5, 5],
    canary: [1, 2],
    waves: [1, 2],
  };

  for (const strategy of STRATEGIES) {
    it(`${strategy}: v1 → v2 on 5 machines under traffic, no failed request, every machine on v2, nothing left behind`, async () => {
      await setUp();
      const first = await deploy('v1', settings('rolling'));
      assert.equal(first.status, 'succeeded', first.error ?? '');
      assert.deepEqual(await serving(), { v1: 5 });
      // Traffic before, during and after the deploy, by count (a busy machine sends fewer requests in
      // the time a deploy takes; found by test:soak): some answered before it starts, some after it ends.
      const load = new Load(provider.proxyUrl);
      await load.answered(TRAFFIC_AROUND);
      const summary = await deploy('v2', settings(strategy));
      await load.answered(load.result.requests + TRAFFIC_AROUND);
      const traffic = await load.stop();
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.equal(summary.machines.onTarget, 5);
      assert.deepEqual(await serving(), { v2: 5 });
      const [lo, hi] = EXTRA_PEAK[strategy];
      assert.ok(
        summary.extraMachinesPeak >= lo && summary.extraMachinesPeak <= hi,
        `extra machines at peak: ${summary.extraMachinesPeak}`,
      );
      assert.deepEqual(
        { failed: traffic.failed, non2xx: traffic.non2xx, errors: traffic.errors },
        { failed: 0, non2xx: 0, errors: [] },
      );
      assert.ok(
        Object.keys(traffic.releases).every((r) => r === 'v1' || r === 'v2'),
        JSON.stringify(traffic.releases),
      );
      assert.ok((traffic.releases.v1 ?? 0) > 0, 'v1 answered (before the deploy)');
      assert.ok((traffic.releases.v2 ?? 0) > 0, 'v2 answered (after it)');
      // Old processes and destroyed extra machines are really gone: what runs belongs to the 5 machines
      // (each is a process group: /bin/sh and what it started).
      const machinePids = [...pids().values()];
      assert.equal(machinePids.length, 5);
      const strays = taggedProcesses(TAG).filter((pid) => !machinePids.includes(processGroupOf(pid)!));
      assert.deepEqual(strays, [], 'no process beyond the 5 machines');
    });
  }

  it('a machine process killed mid-deploy is seen as an exit at once: the deploy fails fast and rolls back, v1 serving throughout', async () => {
    await setUp('');
    assert.equal((await deploy('v1', settings())).status, 'succeeded');
    const load = new Load(provider.proxyUrl);
    let killed: string | undefined;
    const s = { ...settings('rolling'), waitTimeoutMs: 60_000 };
    const summary = await deploy('v2', s, (e) => {
      const m: Machine = e.machine;
      if (!killed && m.group === 'web' && m.release === 'v2' && m.state === 'started') {
        killed = m.id;
        const pid = provider.processes().find((p) => p.id === m.id)?.pid;
        if (pid) process.kill(pid, 'SIGKILL');
      }
    });
    const traffic = await load.stop();
    assert.ok(killed, 'a v2 process was killed');
    assert.equal(summary.status, 'rolled_back', summary.error ?? '');
    // Failed on the kill (the failed machine is named, SIGKILL in the error), not on the 60 s wait timeout.
    assert.ok(summary.failedMachineIds.includes(killed!));
    assert.match(summary.error ?? '', /killed by SIGKILL/);
    assert.deepEqual(await serving(), { v1: 5 });
    assert.deepEqual(
      { failed: traffic.failed, non2xx: traffic.non2xx },
      { failed: 0, non2xx: 0 },
      traffic.errors.join('; '),
    );
  });

  it('a release that never turns healthy is rolled back; v1 answers every request throughout', async () => {
    await setUp('');
    assert.equal((await deploy('v1', settings())).status, 'succeeded');
    const load = new Load(provider.proxyUrl);
    const summary = await deploy('v-broken', { ...settings('rolling'), waitTimeoutMs: 2_000 });
    const traffic = await load.stop();
    assert.equal(summary.status, 'rolled_back', summary.error ?? '');
    assert.match(summary.error ?? '', /did not run v-broken with passing checks in time/);
    assert.deepEqual(await serving(), { v1: 5 });
    assert.deepEqual(traffic.releases, { v1: traffic.requests }, 'only v1 answered');
    assert.equal(traffic.failed + traffic.non2xx, 0, traffic.errors.join('; '));
  });

  it('with on_failure = halt it halts: the failing machine stays out of traffic, the others serve v1', async () => {
    await setUp('');
    assert.equal((await deploy('v1', settings())).status, 'succeeded');
    const load = new Load(provider.proxyUrl);
    const summary = await deploy('v-broken', { ...settings('rolling'), waitTimeoutMs: 2_000, onFailure: 'halt' });
    const traffic = await load.stop();
    assert.equal(summary.status, 'halted');
    const fleet = await provider.list(scope);
    const broken = fleet.filter((m) => m.release === 'v-broken');
    assert.ok(broken.length >= 1, 'the failing machines stay on v-broken');
    const routable = new Set(provider.proxy.routable.map((b) => b.id));
    for (const m of broken) assert.ok(!routable.has(m.id), `${m.id} is out of traffic`);
    assert.ok(fleet.filter((m) => m.release === 'v1' && routable.has(m.id)).length >= 2, 'v1 machines serve');
    assert.deepEqual(traffic.releases, { v1: traffic.requests });
    assert.equal(traffic.failed + traffic.non2xx, 0, traffic.errors.join('; '));
  });

  it('a release whose command does not exist fails before any machine changes', async () => {
    await setUp('');
    assert.equal((await deploy('v1', settings())).status, 'succeeded');
    const before = await provider.list(scope);
    const beforePids = pids();
    const summary = await deploy('v-nocmd', settings('bluegreen'));
    assert.equal(summary.status, 'failed');
    assert.match(summary.error ?? '', /release v-nocmd cannot run on local, nothing was changed/);
    assert.match(summary.error ?? '', /no-such-server/);
    assert.deepEqual(await provider.list(scope), before, 'the fleet is exactly as it was');
    assert.deepEqual(pids(), beforePids, 'every machine kept its process');
  });
});
