// Zod types for runway.toml's values that are more than TOML scalars (values.ts parses them). Their
// own module, so every schema file can use them without importing schema.ts (which imports them all).

import { z } from 'zod';
import { describe, parseBudget, parseDurationMs } from './values.js';

/** A number or string turned into T by `parse`; its Error message becomes the issue. */
function parsed<T>(parse: (v: unknown) => T, expected: string) {
  return z
    .union([z.number(), z.string()], {
      error: (iss) =>
        iss.input === undefined ? 'missing (required)' : `expected ${expected}, got ${describe(iss.input)}`,
    })
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: v });
        return z.NEVER;
      }
    });
}

export const duration = () => parsed(parseDurationMs, 'a duration such as "30s" or a number of seconds');
export const positiveDuration = () => duration().refine((ms) => ms > 0, { error: 'must be longer than 0' });
export const budget = () => parsed(parseBudget, 'a count (2), a fraction (0.25) or a percentage ("25%")');
