import { z } from 'zod';
import { unknownKeysMessage } from './issues.js';

/** A strict table whose unknown-key error lists the valid keys. */
export function table<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? unknownKeysMessage(iss.keys, known) : undefined),
  });
}
