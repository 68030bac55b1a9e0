import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STRATEGIES, type Machine } from '../../src/domain/types.js';
import type { ProgressEvent } from '../../src/engine/progress.js';
import { releaseCommandStep } from '../../src/release/release-command.js';
import { runDeploy } from '../../src/engine/executor.js';
import { StoreError, type Store } from '../../src/store/contract.js';
import { rig, settings, spread, SCOPE } from './harness.js';

/** A rolling deploy to v2 of SCOPE, recorded as the front ends record one before the engine runs it. */
function recordRollingDeploy(store: Store, id: string, createdAtMs: number) {
  return store.createDeploy({
    id,
    ...SCOPE,
    release: 'v2',
    previousRelease: null,
    strategy: 'rolling',
    initiator: 'test',
    responsible: 'test',
    trigger: 'cli',
    reason: null,
    plan: null,
    createdAtMs,
  });
}

/** Run the deploy recordRollingDeploy recorded (two machines out at a time) against `store`. */
function runRollingDeploy(r: Awaited<ReturnType<typeof rig>>, store: Store, deployId: string) {
  return runDeploy(
    { provider: r.provider, store, clock: r.clock },
    {
      deployId,
      scope: SCOPE,
      target: { version: 'v2', image: 'mechanic:v2', createdAtMs: 0 },
      groups: r.groups,
      settings: settings({ strategy: 'rolling', maxUnavailable: { count: 2 } }),
      findRelease: async () => undefined,
    },
  );
}

function allOn(machines: Machine[], release: string): boolean {
  return machines.every(
    (m) =>
      m.role === 'serving' && m.release === release && m.state === 'started' && m.health === 'passing' && !m.cordoned,
  );
}

describe('executor: every strategy converges the fleet', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: 12 machines v1 → v2`, async () => {
      const r = await rig();
      try {
        const s = settings({
          strategy,
          maxUnavailable: strategy === 'waves' || strategy === 'bluegreen' ? { count: 0 } : { fraction: 0.33 },
        });
        const summary = await r.deploy('v2', s);
        assert.equal(summary.status, 'succeeded', summary.error ?? '');
        const fleet = await r.fleet();
        assert.equal(fleet.length, 12);
        assert.ok(allOn(fleet, 'v2'), JSON.stringify(spread(fleet)));
        assert.equal(summary.machines.onTarget, 12);
        assert.ok(summary.convergedAtMs !== null && summary.convergedAtMs > 0);
        assert.ok(summary.dispatchedAtMs !== null && summary.dispatchedAtMs <= summary.convergedAtMs!);
        if (strategy === 'bluegreen') assert.equal(summary.extraMachinesPeak, 12);
        if (strategy === 'canary') assert.equal(summary.extraMachinesPeak, 2);
        if (strategy === 'rolling' || strategy === 'immediate') assert.equal(summary.extraMachinesPeak, 0);
        if (strategy === 'waves')
          assert.ok(
            summary.extraMachinesPeak >= 1 && summary.extraMachinesPeak <= 2,
            String(summary.extraMachinesPeak),
          );
        const deploy = await r.store.getDeploy(summary.deployId);
        assert.equal(deploy?.status, 'succeeded');
        assert.equal(deploy?.previousRelease, 'v1');
        const journal = await r.store.listJournal(summary.deployId);
        assert.ok(journal.some((e) => e.kind === 'plan'));
        assert.equal(journal.at(-1)?.kind, 'status');
      } finally {
        await r.close();
      }
    });
  }
});

describe('executor: failure handling', () => {
  it('rolling onto a release that never passes checks rolls back to the previous release', async () => {
    const r = await rig();
    try {
      const summary = await r.deploy('v-broken', settings({ strategy: 'rolling', waitTimeoutMs: 30_000 }));
      assert.equal(summary.status, 'rolled_back');
      assert.ok(summary.machines.failed >= 1);
      assert.match(summary.error ?? '', /did not run v-broken/);
      const fleet = await r.fleet();
      assert.ok(allOn(fleet, 'v1'), JSON.stringify(spread(fleet)));
      assert.equal(fleet.length, 12);
    } finally {
      await r.close();
    }
  });

  it('on_failure = halt stops, keeps the failing machine out of traffic and leaves the rest serving', async () => {
    const r = await rig();
    try {
      const summary = await r.deploy('v-bootfail', settings({ strategy: 'rolling', onFailure: 'halt' }));
      assert.equal(summary.status, 'halted');
      const fleet = await r.fleet();
      const bad = fleet.filter((m) => m.release === 'v-bootfail');
      assert.ok(bad.length >= 1 && bad.length <= 2, `spearheads only: ${bad.length}`);
      assert.ok(
        bad.every((m) => m.cordoned),
        'failed machines stay out of traffic',
      );
      assert.equal(fleet.filter((m) => m.release === 'v1' && !m.cordoned).length, 12 - bad.length);
    } finally {
      await r.close();
    }
  });

  it('a boot failure fails fast instead of waiting out the timeout', async () => {
    const r = await rig();
    try {
      const start = r.clock.now();
      const summary = await r.deploy(
        'v-bootfail',
        settings({ strategy: 'rolling', onFailure: 'halt', waitTimeoutMs: 600_000 }),
      );
      assert.equal(summary.status, 'halted');
      assert.ok(r.clock.now() - start < 60_000, `took ${r.clock.now() - start} ms of a 600 s timeout`);
    } finally {
      await r.close();
    }
  });

  it('bluegreen failure before cutover destroys green and leaves every blue machine untouched', async () => {
    const r = await rig();
    try {
      const before = new Map((await r.fleet()).map((m) => [m.id, m.instanceVersion]));
      const summary = await r.deploy(
        'v-broken',
        settings({ strategy: 'bluegreen', maxUnavailable: { count: 0 }, waitTimeoutMs: 20_000 }),
      );
      assert.equal(summary.status, 'rolled_back');
      const fleet = await r.fleet();
      assert.equal(fleet.length, 12, JSON.stringify(spread(fleet)));
      for (const m of fleet) {
        assert.equal(before.get(m.id), m.instanceVersion, `blue ${m.id} was changed`);
        assert.ok(!m.cordoned && m.role === 'serving');
      }
    } finally {
      await r.close();
    }
  });

  it('immediate names stragglers that never converge and does not wait forever', async () => {
    const r = await rig();
    try {
      const start = r.clock.now();
      const summary = await r.deploy(
        'v-broken',
        settings({ strategy: 'immediate', convergenceTimeoutMs: 60_000, onFailure: 'halt' }),
      );
      assert.equal(summary.status, 'halted');
      assert.ok(r.clock.now() - start < 120_000);
      assert.ok(summary.dispatchedAtMs !== null);
      assert.equal(summary.convergedAtMs, null);
      assert.equal(summary.machines.stragglers, 12);
      assert.equal(summary.stragglerIds.length, 12);
      assert.match(summary.error ?? '', /12 stragglers/);
    } finally {
      await r.close();
    }
  });

  it('immediate with on_failure = rollback puts stragglers back on the previous release', async () => {
    const r = await rig();
    try {
      const summary = await r.deploy('v-broken', settings({ strategy: 'immediate', convergenceTimeoutMs: 60_000 }));
      assert.equal(summary.status, 'rolled_back');
      assert.ok(allOn(await r.fleet(), 'v1'));
    } finally {
      await r.close();
    }
  });

  it('a machine that silently reverts is never counted as converged', async () => {
    const r = await rig({ sim: { faults: { revertRate: 1 } } });
    try {
      const summary = await r.deploy('v2', settings({ strategy: 'rolling', onFailure: 'halt' }));
      assert.notEqual(summary.status, 'succeeded');
      assert.ok(summary.machines.onTarget < 12);
      assert.match(summary.error ?? '', /revert/i);
    } finally {
      await r.close();
    }
  });

  it('survives 5xx and timeouts from the provider API', async () => {
    const r = await rig({ sim: { faults: { errorRate: { all: 0.1 }, timeoutRate: 0.03 } } });
    try {
      const summary = await r.deploy('v2', settings({ strategy: 'waves', maxUnavailable: { count: 1 } }));
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.ok(allOn(await r.fleet(), 'v2'));
      assert.ok(r.provider.stats.retries > 0, 'some calls were retried');
    } finally {
      await r.close();
    }
  });
});

describe('executor: abort and level-triggered re-planning', () => {
  it('abort stops within in-flight operations and leaves a consistent fleet', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 30 }] });
    try {
      const controller = new AbortController();
      let updated = 0;
      const onProgress = (e: ProgressEvent) => {
        if (e.type === 'step' && e.status === 'succeeded' && e.step.kind === 'update' && ++updated === 6)
          controller.abort('test');
      };
      const summary = await r.deploy(
        'v2',
        settings({ strategy: 'waves', maxSurge: { count: 3 }, maxUnavailable: { count: 0 }, onAbort: 'leave' }),
        { signal: controller.signal, onProgress },
      );
      assert.equal(summary.status, 'aborted');
      const fleet = await r.fleet();
      assert.equal(fleet.filter((m) => m.role !== 'serving').length, 0, 'no extra machines left behind');
      assert.ok(
        fleet.every((m) => !m.cordoned || m.health !== 'passing'),
        'no healthy machine left out of traffic',
      );
      const onV2 = fleet.filter((m) => m.release === 'v2').length;
      assert.ok(onV2 > 0 && onV2 < 30, `on_abort = leave keeps what changed and stops before the end (${onV2} on v2)`);
    } finally {
      await r.close();
    }
  });

  it('abort with on_abort = rollback (the default) puts what changed back, and the deploy stays aborted', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 30 }] });
    try {
      const controller = new AbortController();
      let waves = 0;
      const onProgress = (e: ProgressEvent) => {
        if (e.type === 'wave-end' && ++waves === 2) controller.abort('alice');
      };
      const summary = await r.deploy('v2', settings({ strategy: 'rolling', maxUnavailable: { count: 5 } }), {
        signal: controller.signal,
        onProgress,
      });
      assert.equal(summary.status, 'aborted');
      assert.match(summary.error ?? '', /alice/);
      const fleet = await r.fleet();
      assert.ok(allOn(fleet, 'v1'), JSON.stringify(spread(fleet)));
      const journal = await r.store.listJournal(summary.deployId);
      assert.ok(journal.some((e) => e.kind === 'rollback'));
    } finally {
      await r.close();
    }
  });

  it('an abort requested in the store is seen by the running deploy', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 20 }] });
    try {
      let requested = false;
      const onProgress = (e: ProgressEvent) => {
        if (e.type === 'wave-start' && e.wave.index === 1 && !requested) {
          requested = true;
          void r.store.listDeploys({ limit: 1 }).then(([d]) => r.store.requestAbort(d!.id, 'alice', r.clock.now()));
        }
      };
      const summary = await r.deploy('v2', settings({ strategy: 'rolling', maxUnavailable: { count: 2 } }), {
        onProgress,
      });
      assert.equal(summary.status, 'aborted');
      assert.match(summary.error ?? '', /alice/);
    } finally {
      await r.close();
    }
  });

  it('a second deploy of the same release touches only what someone changed by hand', async () => {
    const r = await rig();
    try {
      assert.equal((await r.deploy('v2', settings())).status, 'succeeded');
      const [victim] = await r.fleet();
      await r.provider.update(SCOPE, victim!.id, { release: 'v1' });
      await r.clock.sleep(60_000);
      const steps: string[] = [];
      const summary = await r.deploy('v2', settings(), {
        onProgress: (e) => {
          if (e.type === 'step' && e.status === 'started' && e.machineId) steps.push(e.machineId);
        },
      });
      assert.equal(summary.status, 'succeeded');
      assert.deepEqual(steps, [victim!.id]);
    } finally {
      await r.close();
    }
  });

  it('a deploy onto an empty fleet creates every machine, checked before it takes traffic', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 5 }] });
    try {
      for (const m of await r.fleet()) await r.provider.destroy(SCOPE, m.id);
      await r.clock.sleep(30_000);
      assert.equal((await r.fleet()).length, 0);
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }));
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.ok(allOn(await r.fleet(), 'v2'));
      assert.equal((await r.fleet()).length, 5);
    } finally {
      await r.close();
    }
  });
});

describe('executor: capacity and extras, observed on the live fleet', () => {
  // Machines in traffic = serving, uncordoned, started and passing; watched through provider events.
  const cases = [
    { strategy: 'rolling', maxUnavailable: { count: 3 }, maxSurge: { count: 0 }, floor: 30 - 3, extras: 0 },
    { strategy: 'waves', maxUnavailable: { count: 0 }, maxSurge: { count: 4 }, floor: 30, extras: 4 },
    { strategy: 'waves', maxUnavailable: { count: 2 }, maxSurge: { count: 3 }, floor: 28, extras: 3 },
    { strategy: 'bluegreen', maxUnavailable: { count: 0 }, maxSurge: { count: 0 }, floor: 30, extras: 30 },
    { strategy: 'canary', maxUnavailable: { count: 5 }, maxSurge: { count: 0 }, floor: 25, extras: 1 },
  ] as const;
  for (const c of cases) {
    it(`${c.strategy} (max_unavailable ${c.maxUnavailable.count}, max_surge ${c.maxSurge.count}) keeps ≥ ${c.floor} of 30 in traffic and ≤ ${c.extras} extra`, async () => {
      const r = await rig({ groups: [{ name: 'web', count: 30 }] });
      try {
        const live = new Map((await r.fleet()).map((m) => [m.id, m]));
        let minInTraffic = Infinity;
        let maxMachines = 0;
        const inTraffic = () =>
          [...live.values()].filter(
            (m) => m.role === 'serving' && !m.cordoned && m.state === 'started' && m.health === 'passing',
          ).length;
        const unsubscribe = r.sim.subscribe(SCOPE, (e) => {
          if (e.type === 'destroyed' || e.machine.state === 'destroyed') live.delete(e.machine.id);
          else live.set(e.machine.id, e.machine);
          minInTraffic = Math.min(minInTraffic, inTraffic());
          maxMachines = Math.max(maxMachines, live.size);
        });
        const summary = await r.deploy(
          'v2',
          settings({ strategy: c.strategy, maxUnavailable: c.maxUnavailable, maxSurge: c.maxSurge }),
        );
        unsubscribe();
        assert.equal(summary.status, 'succeeded', summary.error ?? '');
        assert.ok(minInTraffic >= c.floor, `in traffic dropped to ${minInTraffic}`);
        assert.ok(maxMachines - 30 <= c.extras, `${maxMachines - 30} extra machines`);
        assert.ok(allOn(await r.fleet(), 'v2'));
      } finally {
        await r.close();
      }
    });
  }
});

describe('executor: resuming a deploy whose process died', () => {
  // The "crash" is reproduced on the fleet itself: what a dead runway leaves behind, then the same
  // deploy id is run again, as `runway deploy resume` does.
  function countUpdates(r: Awaited<ReturnType<typeof rig>>): Map<string, number> {
    const counts = new Map<string, number>();
    const update = r.provider.update.bind(r.provider);
    r.provider.update = async (scope, id, u, call) => {
      counts.set(id, (counts.get(id) ?? 0) + 1);
      return update(scope, id, u, call);
    };
    return counts;
  }

  it('rolling: machines already on the target are not updated again; one left cordoned mid-step is put back', async () => {
    const r = await rig();
    try {
      const deployId = 'dep_crashed1';
      const fleet = await r.fleet();
      // The dead run had updated three web machines for this deploy, one of them still cordoned.
      for (const m of fleet.slice(0, 3)) await r.provider.update(SCOPE, m.id, { release: 'v2', deployId });
      await r.provider.cordon(SCOPE, fleet[2]!.id);
      await r.clock.sleep(60_000);
      const counts = countUpdates(r);
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), { deployId });
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.ok(allOn(await r.fleet(), 'v2'));
      for (const m of fleet.slice(0, 3)) assert.equal(counts.get(m.id) ?? 0, 0, `${m.id} updated twice`);
      assert.equal(counts.size, 9);
      assert.ok([...counts.values()].every((n) => n === 1));
    } finally {
      await r.close();
    }
  });

  it('bluegreen: greens the dead run created are adopted, not created again', async () => {
    const r = await rig();
    try {
      const deployId = 'dep_crashed2';
      // The dead run had created 5 of 12 greens.
      for (let i = 0; i < 5; i++) {
        await r.provider.create(SCOPE, {
          group: 'web',
          release: 'v2',
          role: 'green',
          cordoned: true,
          deployId,
          launchId: `${deployId}:web:green:${i}`,
        });
      }
      await r.clock.sleep(60_000);
      let creates = 0;
      const create = r.provider.create.bind(r.provider);
      r.provider.create = async (...args) => {
        creates++;
        return create(...args);
      };
      const summary = await r.deploy('v2', settings({ strategy: 'bluegreen', maxUnavailable: { count: 0 } }), {
        deployId,
      });
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.equal(creates, 7);
      const after = await r.fleet();
      assert.equal(after.length, 12);
      assert.ok(allOn(after, 'v2'));
    } finally {
      await r.close();
    }
  });

  it('a green of another (dead) deploy is an orphan: destroyed, never promoted', async () => {
    const r = await rig();
    try {
      await r.provider.create(SCOPE, {
        group: 'web',
        release: 'v3',
        role: 'green',
        cordoned: true,
        deployId: 'dep_other',
        launchId: 'dep_other:web:green:0',
      });
      await r.clock.sleep(60_000);
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }));
      assert.equal(summary.status, 'succeeded');
      const after = await r.fleet();
      assert.equal(after.length, 12);
      assert.ok(after.every((m) => m.release === 'v2' && m.role === 'serving'));
    } finally {
      await r.close();
    }
  });
});

describe('executor: release steps', () => {
  it('a release command runs once, on a machine of the new release, before any serving machine changes', async () => {
    const r = await rig();
    try {
      const before = new Map((await r.fleet()).map((m) => [m.id, m.instanceVersion]));
      const order: string[] = [];
      const step = releaseCommandStep({ command: 'bin/migrate', timeoutMs: 60_000 });
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        releaseSteps: [step],
        onProgress: (e) => {
          if (e.type === 'release-step') order.push(`step:${e.ok}`);
          if (e.type === 'step' && e.status === 'started' && order.length === 1 && !order.includes('machines'))
            order.push('machines');
        },
      });
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.deepEqual(order, ['step:true', 'machines']);
      const journal = await r.store.listJournal(summary.deployId);
      const ran = journal.find((e) => e.kind === 'release_step_succeeded');
      assert.equal((ran?.data as { step: string }).step, 'release-command');
      assert.ok(
        (await r.fleet()).every((m) => m.role === 'serving'),
        'the ephemeral machine is gone',
      );
      assert.equal(before.size, 12);
    } finally {
      await r.close();
    }
  });

  it('a release command that fails ends the deploy as release_command_failed with nothing touched', async () => {
    const r = await rig();
    try {
      const before = new Map((await r.fleet()).map((m) => [m.id, m.instanceVersion]));
      const summary = await r.deploy('v-bootfail', settings({ strategy: 'rolling' }), {
        releaseSteps: [releaseCommandStep({ command: 'bin/migrate', timeoutMs: 60_000 })],
      });
      assert.equal(summary.status, 'release_command_failed');
      assert.match(summary.error ?? '', /exited with code 1/);
      const after = await r.fleet();
      assert.equal(after.length, 12, 'the failed release command machine was removed');
      for (const m of after) assert.equal(before.get(m.id), m.instanceVersion);
      const failed = (await r.store.listJournal(summary.deployId)).find((e) => e.kind === 'release_step_failed');
      assert.ok(((failed?.data as { output: string[] }).output ?? []).some((l) => /exited with code 1/.test(l)));
    } finally {
      await r.close();
    }
  });

  it('a release command that outlives its timeout is stopped and fails the deploy', async () => {
    const r = await rig();
    try {
      const summary = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        releaseSteps: [releaseCommandStep({ command: 'bin/slow', timeoutMs: 50 })],
      });
      assert.equal(summary.status, 'release_command_failed');
      assert.match(summary.error ?? '', /did not finish within/);
      await r.clock.sleep(30_000);
      assert.ok((await r.fleet()).every((m) => m.role === 'serving' && m.release === 'v1'));
    } finally {
      await r.close();
    }
  });

  it('a resumed deploy does not run its release command again', async () => {
    const r = await rig();
    try {
      let runs = 0;
      const counting = {
        name: 'release-command',
        failStatus: 'release_command_failed' as const,
        run: async () => ({ ok: true, summary: `run ${++runs}` }),
      };
      const first = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        deployId: 'dep_rc',
        releaseSteps: [counting],
      });
      assert.equal(first.status, 'succeeded');
      await r.store.updateDeploy('dep_rc', { status: 'running' });
      for (const m of (await r.fleet()).slice(0, 2)) await r.provider.update(SCOPE, m.id, { release: 'v1' });
      await r.clock.sleep(60_000);
      const again = await r.deploy('v2', settings({ strategy: 'rolling' }), {
        deployId: 'dep_rc',
        releaseSteps: [counting],
      });
      assert.equal(again.status, 'succeeded');
      assert.equal(runs, 1);
    } finally {
      await r.close();
    }
  });
});

describe('executor: waves resumed after a crash', () => {
  it(
    'machines the dead run left out of traffic open the window again when they come back (no deadlock)',
    { timeout: 300_000 },
    async () => {
      const r = await rig({ groups: [{ name: 'web', count: 30 }] });
      try {
        const deployId = 'dep_waves_crashed';
        const fleet = await r.fleet();
        // The dead run: its 3 surge machines are in traffic, and it had 3 old machines cordoned and updated.
        for (let i = 0; i < 3; i++) {
          const m = await r.provider.create(SCOPE, {
            group: 'web',
            release: 'v2',
            role: 'surge',
            cordoned: true,
            deployId,
            launchId: `${deployId}:web:surge:${i}`,
          });
          await r.clock.sleep(20_000);
          await r.provider.uncordon(SCOPE, m.id, 'serving');
        }
        for (const m of fleet.slice(0, 3)) {
          await r.provider.cordon(SCOPE, m.id);
          await r.provider.update(SCOPE, m.id, { release: 'v2', deployId });
        }
        await r.clock.sleep(60_000);
        const summary = await r.deploy(
          'v2',
          settings({ strategy: 'waves', maxSurge: { count: 3 }, maxUnavailable: { count: 0 } }),
          { deployId },
        );
        assert.equal(summary.status, 'succeeded', summary.error ?? '');
        const after = await r.fleet();
        assert.equal(after.length, 30);
        assert.ok(allOn(after, 'v2'));
      } finally {
        await r.close();
      }
    },
  );
});

describe('executor: the store becomes unreachable mid-deploy', () => {
  it('a store down as the deploy writes its plan (nothing changed yet) is waited for, not a failed deploy', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 6 }] });
    // Down from just after the run marks the deploy running, for 30 s (found by bench:chaos pg-restart).
    let down = false;
    const flaky = new Proxy(r.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          if (down) throw new StoreError('unavailable', 'store unreachable (test)');
          const result = await value.apply(target, args);
          if (prop === 'updateDeploy' && (args[1] as { status?: string }).status === 'running') {
            down = true;
            void r.clock.sleep(30_000).then(() => (down = false));
          }
          return result;
        };
      },
    });
    try {
      await recordRollingDeploy(r.store, 'dep_plandown', r.clock.now());
      const summary = await runRollingDeploy(r, flaky, 'dep_plandown');
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      assert.ok(allOn(await r.fleet(), 'v2'));
      const record = await r.store.getDeploy('dep_plandown');
      assert.equal(record?.status, 'succeeded');
      assert.ok(record?.plan, 'the plan was written once the store answered');
    } finally {
      await r.close();
    }
  });

  it('no new provider operation starts while the store is down; the deploy goes on when it answers again', async () => {
    const r = await rig({ groups: [{ name: 'web', count: 20 }] });
    // The real store, behind a switch: while `down`, every call fails as an unreachable store does.
    let down = false;
    const flaky = new Proxy(r.store, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) =>
          down ? Promise.reject(new StoreError('unavailable', 'store unreachable (test)')) : value.apply(target, args);
      },
    });
    try {
      await recordRollingDeploy(r.store, 'dep_storedown', r.clock.now());
      const starts: number[] = [];
      const update = r.provider.update.bind(r.provider);
      r.provider.update = async (...args) => {
        starts.push(r.clock.now());
        return update(...args);
      };
      const t0 = r.clock.now();
      const outage = (async () => {
        await r.clock.sleep(20_000);
        down = true;
        await r.clock.sleep(60_000);
        down = false;
      })();
      const summary = await runRollingDeploy(r, flaky, 'dep_storedown');
      await outage;
      assert.equal(summary.status, 'succeeded', summary.error ?? '');
      // The deploy notices within one poll (1 s) plus one in-flight call; nothing new starts until the store is back.
      const during = starts.filter((t) => t > t0 + 20_000 + 2_000 && t < t0 + 80_000);
      assert.deepEqual(
        during,
        [],
        `updates started while the store was down at +${during.map((t) => t - t0).join(', +')} ms`,
      );
      assert.ok(
        starts.some((t) => t < t0 + 20_000),
        'it was under way before the outage',
      );
      assert.ok(
        starts.some((t) => t >= t0 + 80_000),
        'and went on after it',
      );
      assert.ok(allOn(await r.fleet(), 'v2'));
      const journal = await r.store.listJournal('dep_storedown');
      assert.equal(journal.at(-1)?.kind, 'status');
      assert.equal(
        journal.filter((e) => e.kind === 'step_succeeded').length,
        20,
        'no journal entry was lost in the outage',
      );
      assert.equal((await r.store.getDeploy('dep_storedown'))?.status, 'succeeded');
    } finally {
      await r.close();
    }
  });
});
