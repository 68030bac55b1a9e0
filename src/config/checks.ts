// Health checks: defaults shared by runway.toml and fly.toml imports.

import type { CheckConfig } from './types.js';

export const CHECK_DEFAULTS = {
  intervalMs: 15_000,
  timeoutMs: 2_000,
  gracePeriodMs: 1_000,
  path: '/',
} as const;

export interface CheckFields {
  name: string;
  type: 'http' | 'tcp';
  group?: string;
  path?: string;
  port?: number;
  intervalMs?: number;
  timeoutMs?: number;
  gracePeriodMs?: number;
}

export function toCheckConfig(f: CheckFields): CheckConfig {
  const check: CheckConfig = {
    name: f.name,
    type: f.type,
    intervalMs: f.intervalMs ?? CHECK_DEFAULTS.intervalMs,
    timeoutMs: f.timeoutMs ?? CHECK_DEFAULTS.timeoutMs,
    gracePeriodMs: f.gracePeriodMs ?? CHECK_DEFAULTS.gracePeriodMs,
  };
  if (f.group !== undefined) check.group = f.group;
  if (f.type === 'http') check.path = f.path ?? CHECK_DEFAULTS.path;
  if (f.port !== undefined) check.port = f.port;
  return check;
}
