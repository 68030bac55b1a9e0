// `runway rollback --env E [--to RELEASE]`: a new deploy to the previous good release (or the named
// one), with the environment's rollback strategy (default immediate, convergence tracked). It starts
// the one way every deploy starts (src/deploys/), so the same policy decides who may roll back.

import { environment, openContext, type GlobalOptions, whoIsAsking } from '../context.js';
import { runCliDeploy } from '../deploy-runner.js';
import type { Io } from '../io.js';
import { cliRequest, dryRun, parseLockWait, parseStrategy } from './deploy.js';

export { previousGoodRelease } from '../../deploys/releases.js';

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

export async function rollbackCommand(options: RollbackOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const strategy = parseStrategy(options.strategy);
  const lockWaitMs = options.lockWait ? parseLockWait(options.lockWait) : 0;
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const who = whoIsAsking(options, io);
    const request = cliRequest(env.name, who, {
      kind: 'rollback',
      trigger: 'rollback',
      emergency: options.emergency,
      reason: options.reason,
      release: options.to,
      strategy,
    });
    if (options.dryRun)
      return await dryRun(config, store, request, io, { json: options.json ?? false, verbose: false });
    return (await runCliDeploy({ config, store, request, io, json: options.json ?? false, lockWaitMs, signal })).code;
  } finally {
    await ctx.close();
  }
}
