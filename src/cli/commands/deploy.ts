// `runway deploy --env E [--release V] [--strategy S] [--dry-run] [--json] [--lock-wait D]`

import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import pc from 'picocolors';
import { resolveStrategySettings } from '../../config/settings.js';
import { formatDuration, parseDuration, RealClock } from '../../domain/clock.js';
import { STRATEGIES, type Release, type StrategyName } from '../../domain/types.js';
import { acquireEnvironmentLock } from '../../engine/environment-lock.js';
import { runDeploy } from '../../engine/executor.js';
import { exitCodeFor, type DeploySummary } from '../../engine/summary.js';
import { buildPlan } from '../../strategies/index.js';
import { formatPlan } from '../../strategies/format-plan.js';
import type { Store } from '../../store/contract.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { ProgressView } from '../progress-view.js';
import { openProviderSession } from '../../providers/open-session.js';
import { formatFleet } from './status.js';

export interface DeployOptions extends GlobalOptions {
  env?: string;
  release?: string;
  strategy?: string;
  dryRun?: boolean;
  json?: boolean;
  lockWait?: string;
  verbose?: boolean;
  /** Who runs it; defaults to the OS user. */
  as?: string;
}

export function newDeployId(): string {
  return `dep_${randomBytes(6).toString('hex')}`;
}

export async function resolveRelease(store: Store, app: string, version: string | undefined): Promise<Release> {
  const releases = await store.listReleases(app);
  if (!version) {
    const latest = releases[0];
    if (!latest) throw new CliError(`no releases of ${app} yet; create one with \`runway releases create VERSION\``);
    return latest;
  }
  const release = releases.find((r) => r.version === version);
  if (!release) {
    const known = releases.slice(0, 10).map((r) => r.version).join(', ') || 'none';
    throw new CliError(`release ${version} does not exist for ${app} (known: ${known}); create it with \`runway releases create ${version}\``);
  }
  return release;
}

export function parseStrategy(value: string | undefined): StrategyName | undefined {
  if (value === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(value)) {
    throw new CliError(`--strategy: unknown strategy "${value}" (one of: ${STRATEGIES.join(', ')})`);
  }
  return value as StrategyName;
}

export async function deployCommand(options: DeployOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const strategyOverride = parseStrategy(options.strategy);
  const lockWaitMs = options.lockWait ? parseLockWait(options.lockWait) : 0;
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const settings = resolveStrategySettings(env, config.app.processes, strategyOverride);
    const scope = { app: config.app.name, env: env.name };
    // Opened first: a new sim fleet registers the release it is seeded on.
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const release = await resolveRelease(store, config.app.name, options.release);
      const deployId = options.dryRun ? 'dry-run' : newDeployId();
      const fleet = await session.provider.list(scope);
      // Plan first: a plan the strategy refuses (PlanError) is bad input, found before anything changes.
      const plan = buildPlan({ deployId, app: scope.app, env: scope.env, fleet, target: release, groups: config.app.processes, settings });
      if (options.dryRun) {
        if (options.json) printJson(io, plan);
        else io.stdout.write(formatPlan(plan, { verbose: options.verbose ?? false }) + '\n');
        return 0;
      }
      const who = options.as ?? io.env.RUNWAY_USER ?? userInfo().username;
      await store.createDeploy({
        id: deployId,
        app: scope.app,
        env: scope.env,
        release: release.version,
        previousRelease: plan.previous ?? null,
        strategy: settings.strategy,
        initiator: `cli:${who}`,
        responsible: who,
        trigger: 'cli',
        reason: null,
        plan,
        // Wall-clock time: deploys of successive runs order by it even when the sim runs on virtual time.
        createdAtMs: Date.now(),
        owner: `${hostname()}:${process.pid}`,
      });
      try {
        await acquireEnvironmentLock(store, new RealClock(), { app: scope.app, env: scope.env, holder: deployId, reason: `deploy ${release.version}`, waitMs: lockWaitMs });
      } catch (err) {
        await store.updateDeploy(deployId, { status: 'failed', error: (err as Error).message, finishedAtMs: session.clock.now() });
        throw err;
      }
      const view = options.json
        ? undefined
        : new ProgressView(
            io.stderr,
            session.clock,
            `${pc.bold(`deploy ${deployId}`)}  ${scope.app}/${scope.env}  ${plan.previous ?? '∅'} → ${pc.bold(release.version)}  ${settings.strategy}  (${fleet.length} machines, ${plan.waves.length} waves)`,
            fleet,
          );
      let summary: DeploySummary;
      try {
        summary = await runDeploy(
          { provider: session.provider, store, clock: session.clock, wallClock: new RealClock(), onProgress: view?.listener, apiStats: session.apiStats },
          {
            deployId,
            scope,
            target: release,
            groups: config.app.processes,
            settings,
            findRelease: (v) => store.getRelease(scope.app, v),
          },
          signal,
        );
      } finally {
        view?.stop();
        await store.releaseLock(scope.app, scope.env, deployId);
        await session.save();
      }
      if (options.json) printJson(io, summary);
      else {
        io.stdout.write(formatSummary(summary) + '\n');
        // Anything but success: say exactly which machine is where.
        if (summary.status !== 'succeeded') io.stdout.write(formatFleet(await session.provider.list(scope), release.version) + '\n');
      }
      return exitCodeFor(summary.status);
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
}

function parseLockWait(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new CliError(`--lock-wait: ${(err as Error).message}`);
  }
}

const STATUS_COLOR: Record<string, (s: string) => string> = {
  succeeded: pc.green,
  rolled_back: pc.yellow,
  halted: pc.yellow,
  aborted: pc.yellow,
  failed: pc.red,
};

export function formatSummary(s: DeploySummary): string {
  const color = STATUS_COLOR[s.status] ?? ((x: string) => x);
  const lines = [
    `${color(pc.bold(s.status))}  ${s.deployId}  ${s.app}/${s.env}  ${s.release} (${s.strategy})`,
    `  machines: ${s.machines.onTarget}/${s.machines.total} on ${s.release}` +
      (s.machines.failed ? `, ${s.machines.failed} failed` : '') +
      (s.machines.stragglers ? `, ${s.machines.stragglers} stragglers` : ''),
    `  dispatched: ${s.dispatchedAtMs === null ? '—' : formatDuration(s.dispatchedAtMs)}  converged: ${s.convergedAtMs === null ? '—' : formatDuration(s.convergedAtMs)}  total: ${formatDuration(s.finishedAtMs)}`,
    `  extra machines at peak: ${s.extraMachinesPeak}  API calls: ${s.apiCalls}${s.rateLimited ? ` (${s.rateLimited} rate-limited)` : ''}`,
  ];
  if (s.failedMachineIds.length) lines.push(`  failed machines: ${s.failedMachineIds.slice(0, 10).join(', ')}${s.failedMachineIds.length > 10 ? ' …' : ''}`);
  if (s.stragglerIds.length) lines.push(`  stragglers: ${s.stragglerIds.slice(0, 10).join(', ')}${s.stragglerIds.length > 10 ? ' …' : ''}`);
  if (s.error) lines.push(`  ${pc.red('error:')} ${s.error}`);
  return lines.join('\n');
}

