// How any command's error becomes a message and an exit code (the exit codes in `runway --help`).

import { ConfigError } from '../config/errors.js';
import { LockHeldError } from '../engine/environment-lock.js';
import { EXIT } from '../engine/summary.js';
import { ProviderSetupError } from '../providers/session.js';
import { PlanError } from '../strategies/index.js';
import { CliError, printJson, type Io } from './io.js';

export function reportError(err: unknown, io: Io, json: boolean): number {
  let code: number = EXIT.internal;
  let message = err instanceof Error ? err.message : String(err);
  if (err instanceof ConfigError) {
    code = EXIT.badInput;
    message = err.toString();
  } else if (err instanceof CliError) code = err.exitCode;
  else if (err instanceof PlanError || err instanceof ProviderSetupError) code = EXIT.badInput;
  else if (err instanceof LockHeldError) code = EXIT.locked;
  if (json) printJson(io, { error: message, exitCode: code });
  else io.stderr.write(`runway: ${message}\n`);
  return code;
}
