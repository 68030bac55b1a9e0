import { ProviderError } from '../providers/contract.js';

/** One line for a journal entry or a CLI message; never a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof ProviderError) {
    const where = err.details.machineId ? ` (machine ${err.details.machineId})` : '';
    const status = err.details.status ? ` [${err.details.status}]` : '';
    return `${err.kind}${status}${where}: ${err.message}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
