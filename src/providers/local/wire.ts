// The supervisor's control API, as both ends see it: HTTP/1.1 + JSON on 127.0.0.1, a bearer token
// from supervisor.json (mode 0600), provider errors carried as { error: { kind, message, details } }.
// Every answer carries `x-runway-seq`, the number of the last machine event the supervisor had
// emitted when it answered, so a client with an event stream open can deliver every event a call
// caused before the call returns (as an in-process provider does).

import { ProviderError, type ProviderErrorKind } from '../contract.js';

export const API = '/v1';
export const SEQ_HEADER = 'x-runway-seq';

/** What `<state_dir>/supervisor.json` holds while a supervisor runs. */
export interface SupervisorInfo {
  format: 'runway-local-supervisor/1';
  pid: number;
  /** Process start time (proc.ts): with the pid, the supervisor's identity. */
  startTime: string;
  controlUrl: string;
  token: string;
  proxyUrl: string;
  proxyPort: number;
  app: string;
  env: string;
  configFile: string;
  stateDir: string;
  startedAtMs: number;
  /** Pid whose death makes the supervisor shut down (the demo, tests), if any. */
  ownerPid?: number;
}

export interface WireError {
  kind: ProviderErrorKind;
  message: string;
  details?: ProviderError['details'];
}

export const STATUS_OF: Record<ProviderErrorKind, number> = {
  rate_limited: 429,
  unavailable: 503,
  timeout: 504,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  bad_request: 422,
  machine_failed: 424,
  wait_timeout: 408,
};

export function toWire(error: unknown): { status: number; body: { error: WireError } } {
  if (error instanceof ProviderError) {
    return {
      status: STATUS_OF[error.kind],
      body: { error: { kind: error.kind, message: error.message, details: error.details } },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { kind: 'unavailable', message: `local supervisor: ${message}` } } };
}

export function fromWire(error: WireError): ProviderError {
  return new ProviderError(error.kind, error.message, error.details ?? {});
}
