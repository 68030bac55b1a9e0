// `runway rollback --env E [--to RELEASE]`: a new deploy to the previous good release (or the named
// one), with the environment's rollback strategy (default immediate, convergence tracked).

import { hostname, userInfo } from 'node:os';
import { resolveStrategySettings } from '../../config/settings.js';
import type { StrategyName } from '../../domain/types.js';
import { buildPlan } from '../../strategies/index.js';
import { formatPlan } from '../../strategies/format-plan.js';
import type { Store } from '../../store/contract.js';
import { openProviderSession } from '../../providers/open-session.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { superviseDeploy } from '../deploy-runner.js';
import { CliError, printJson, type Io } from '../io.js';
import { enforceCliPolicy, newDeployId, parseStrategy, resolveRelease } from './deploy.js';
import { parseDuration } from '../../domain/clock.js';

export interface RollbackOptions extends GlobalOptions {
  emergency?: boolean;
  reason?: string;
  env?: string;
  to?: string;
  strategy?: string;
  dryRun?: boolean;
  json?: boolean;
  lockWait?: string;
  as?: string;
}

/**
 * The release to go back to: the newest release that a deploy took the environment to successfully,
 * other than the one the newest successful deploy put there (what runs now).
 */
export async function previousGoodRelease(store: Store, app: string, env: string): Promise<{ current: string | null; previous: string | null }> {
  const done = await store.listDeploys({ app, env, status: ['succeeded'], limit: 200 });
  const current = done[0]?.release ?? null;
  const previous = done.find((d) => d.release !== current)?.release ?? done[0]?.previousRelease ?? null;
  return { current, previous: previous === current ? null : previous };
}

export async function rollbackCommand(options: RollbackOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const override = parseStrategy(options.strategy);
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const scope = { app: config.app.name, env: env.name };
    const strategy: StrategyName = override ?? env.deploy.rollbackStrategy ?? 'immediate';
    const settings = resolveStrategySettings(env, config.app.processes, strategy);
    const who = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
    // A rollback is a deploy: the same policy decides who may start one from the CLI.
    const decision = options.dryRun ? undefined : await enforceCliPolicy(store, config.app.name, env, { who, emergency: options.emergency, reason: options.reason, trigger: 'rollback' }, io);
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      let version = options.to;
      if (!version) {
        const { current, previous } = await previousGoodRelease(store, scope.app, scope.env);
        if (!previous) {
          throw new CliError(`no previous good release of ${scope.app}/${scope.env} is known${current ? ` (only ${current})` : ''}; name one with --to RELEASE`);
        }
        version = previous;
      }
      const release = await resolveRelease(store, scope.app, version);
      const deployId = options.dryRun ? 'dry-run' : newDeployId();
      const fleet = await session.provider.list(scope);
      const plan = buildPlan({ deployId, app: scope.app, env: scope.env, fleet, target: release, groups: config.app.processes, settings });
      if (options.dryRun) {
        if (options.json) printJson(io, plan);
        else io.stdout.write(formatPlan(plan) + '\n');
        return 0;
      }
      const deploy = await store.createDeploy({
        id: deployId,
        app: scope.app,
        env: scope.env,
        release: release.version,
        previousRelease: plan.previous ?? null,
        strategy: settings.strategy,
        initiator: decision?.label ?? `cli:${who}`,
        responsible: decision?.responsible ?? who,
        trigger: 'rollback',
        reason: options.reason ?? `rollback to ${release.version}`,
        ...(decision?.emergency ? { emergency: true } : {}),
        plan,
        createdAtMs: Date.now(),
        owner: `${hostname()}:${process.pid}`,
      });
      return await superviseDeploy({
        config,
        store,
        session,
        deploy,
        release,
        // A failed rollback stops where it is: rolling "back from the rollback" would be surprising.
        settings: { ...settings, onFailure: 'halt' },
        fleet,
        waves: plan.waves.length,
        lockWaitMs: options.lockWait ? parseDuration(options.lockWait) : 0,
        json: options.json ?? false,
        io,
        ...(signal ? { signal } : {}),
      });
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
}
