// fast-check arbitraries generated from Fly's published spec (with runway's documented overlay), so
// property tests draw machine configs the API itself allows rather than ones written by hand.

import fc from 'fast-check';
import swagger from '../../src/providers/fly/spec/fly-machines-swagger.json' with { type: 'json' };
import { OVERLAY_DEFINITIONS } from '../../src/providers/fly/spec/overlay.js';

type Schema = Record<string, unknown>;

const definitions: Record<string, Schema> = { ...(swagger.definitions as Record<string, Schema>) };
for (const [name, entry] of Object.entries(OVERLAY_DEFINITIONS)) definitions[name] = entry.value as Schema;

const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/);
/** Go durations as Fly sends them (fly.Duration in the overlay). */
const duration = fc
  .tuple(fc.integer({ min: 1, max: 600 }), fc.constantFrom('ms', 's', 'm'))
  .map(([n, unit]) => `${n}${unit}`);

/** An arbitrary of values valid against `schema`; `depth` bounds nesting of free-form values. */
export function arbitraryOf(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/definitions/', '');
    if (name === 'fly.Duration') return duration;
    return arbitraryOf(definitions[name]!, depth + 1);
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) return arbitraryOf(schema.allOf[0] as Schema, depth);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  switch (schema.type) {
    case 'string':
      return fc.string({ maxLength: 12 });
    case 'integer':
      return fc.integer({ min: 0, max: 100_000 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(arbitraryOf((schema.items ?? {}) as Schema, depth + 1), { maxLength: depth > 3 ? 0 : 2 });
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      if (
        Object.keys(properties).length === 0 &&
        schema.additionalProperties &&
        typeof schema.additionalProperties === 'object'
      ) {
        return fc.dictionary(word, arbitraryOf(schema.additionalProperties as Schema, depth + 1), {
          maxKeys: depth > 3 ? 0 : 3,
        });
      }
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, sub] of Object.entries(properties)) record[key] = arbitraryOf(sub, depth + 1);
      const requiredKeys = (schema.required ?? []) as string[];
      return fc.record(record, { requiredKeys });
    }
    default:
      // Free-form (`{}`): a small JSON value.
      return fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean());
  }
}

/** A fly.MachineConfig the spec allows, minus the fields listed in `without`. */
export function machineConfigArbitrary(without: string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const schema = structuredClone(definitions['fly.MachineConfig']!) as { properties: Record<string, Schema> };
  for (const key of without) delete schema.properties[key];
  return arbitraryOf(schema as unknown as Schema) as fc.Arbitrary<Record<string, unknown>>;
}
