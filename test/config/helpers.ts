import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';

/** Runs `fn`, asserts it throws a ConfigError, and returns it. */
export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

/** A minimal valid runway.toml to append tables to. */
export const BASE = `[app]
name = "mechanic"

[app.processes]
web = { count = 400, command = "bin/web" }
worker = { count = 100, command = "bin/worker" }
`;
