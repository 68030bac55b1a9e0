// `runway rollback --env E [--to RELEASE]`: a new deploy to the previous good release (or the named
// one), with the environment's rollback strategy (default immediate, convergence tracked). It starts
// the one way every deploy starts (src/deploys/), so the same policy decides who may roll back.

import type { Io } from '../io.js';
import { requestFromCli, type CliDeployFlags } from './deploy.js';

export { previousGoodRelease } from '../../deploys/releases.js';

export interface RollbackOptions extends CliDeployFlags {
  emergency?: boolean;
  reason?: string;
  to?: string;
}

export async function rollbackCommand(options: RollbackOptions, io: Io, signal?: AbortSignal): Promise<number> {
  return requestFromCli({ ...options, verbose: false }, io, signal, {
    kind: 'rollback',
    trigger: 'rollback',
    emergency: options.emergency,
    reason: options.reason,
    release: options.to,
  });
}
