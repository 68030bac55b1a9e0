// The release command: runs once per deploy on an ephemeral machine of the NEW release (role
// `release-command`, no traffic, env RELEASE_COMMAND=1), before any serving machine changes. The
// machine destroys itself when the command exits 0 (Fly: auto_destroy); a machine that fails or
// outlives the timeout is destroyed here. Its launch id is derived from the deploy, so a resumed
// deploy waits for the run already under way instead of starting a second one.

import { ProviderError } from '../providers/contract.js';
import type { ReleaseStep, ReleaseStepContext, ReleaseStepReport } from '../engine/release-steps.js';
import { formatDuration } from '../domain/clock.js';

export interface ReleaseCommandOptions {
  command: string;
  timeoutMs: number;
  /** Extra environment for the command (the environment's variables and secrets). */
  env?: Record<string, string>;
}

/** How long removing the ephemeral machine may take before recover is left to find it. */
const DESTROY_WAIT_MS = 60_000;

/** Process group name the ephemeral machine carries (never one of the app's serving groups). */
export const RELEASE_COMMAND_GROUP = 'release_command';

export function releaseCommandStep(options: ReleaseCommandOptions): ReleaseStep {
  return {
    name: 'release-command',
    failStatus: 'release_command_failed',
    run: (ctx) => runReleaseCommand(ctx, options),
  };
}

async function runReleaseCommand(ctx: ReleaseStepContext, options: ReleaseCommandOptions): Promise<ReleaseStepReport> {
  const { provider, scope, signal } = ctx;
  const started = ctx.clock.now();
  ctx.log(
    `running \`${options.command}\` on a new ${ctx.target.version} machine (timeout ${formatDuration(options.timeoutMs)})`,
  );
  const machine = await provider.create(
    scope,
    {
      group: RELEASE_COMMAND_GROUP,
      release: ctx.target.version,
      ...(ctx.target.image ? { image: ctx.target.image } : {}),
      role: 'release-command',
      cordoned: true,
      launchId: `${ctx.deployId}:release-command:0`,
      deployId: ctx.deployId,
      command: options.command,
      env: { ...options.env, RELEASE_COMMAND: '1' },
    },
    { signal },
  );
  let gone = false;
  const output = async () => (provider.logs ? await provider.logs(scope, machine.id).catch(() => []) : []);
  try {
    await provider.waitFor(scope, machine.id, { state: 'destroyed' }, options.timeoutMs, signal);
    gone = true;
    const lines = await output();
    return {
      ok: true,
      summary: `release command succeeded in ${formatDuration(ctx.clock.now() - started)}`,
      details: { machineId: machine.id, exitCode: 0 },
      output: lines,
    };
  } catch (err) {
    if (signal.aborted) throw err;
    if (err instanceof ProviderError && err.kind === 'machine_failed') {
      const failed = await provider.get(scope, machine.id).catch(() => undefined);
      const code = failed?.exitCode;
      return {
        ok: false,
        summary: `release command \`${options.command}\` exited ${code === undefined ? 'with an error' : `with code ${code}`}; no serving machine was changed`,
        details: { machineId: machine.id, exitCode: code ?? null },
        output: await output(),
      };
    }
    if (err instanceof ProviderError && err.kind === 'wait_timeout') {
      return {
        ok: false,
        summary: `release command \`${options.command}\` did not finish within ${formatDuration(options.timeoutMs)}; it was stopped and no serving machine was changed`,
        details: { machineId: machine.id, timedOut: true },
        output: await output(),
      };
    }
    throw err;
  } finally {
    if (!gone) {
      // Always removed, also on failure, timeout and abort (recover finds any left by a crash).
      try {
        await provider.destroy(scope, machine.id);
        await provider.waitFor(scope, machine.id, { state: 'destroyed' }, DESTROY_WAIT_MS);
      } catch (e) {
        if (!(e instanceof ProviderError && e.kind === 'not_found'))
          ctx.log(`could not destroy release command machine ${machine.id}: ${(e as Error).message}`);
      }
    }
  }
}
