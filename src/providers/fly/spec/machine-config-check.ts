// A machine config held to Fly's published schema (`fly.MachineConfig` of fly-machines-swagger.json)
// before anything is sent: what a user writes (fly.toml's [[vm]], [[services]], [[restart]]…) is
// checked when runway reads it, so a config Fly would refuse fails at load time, not halfway through
// a deploy. The published schema types fields but leaves their documented value sets open; for a
// config a person writes, CONFIG_CONSTRAINTS adds those (each with where Fly documents it). They
// apply here only: `sim serve` and the conformance suite keep to the published spec.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import swagger from './fly-machines-swagger.json' with { type: 'json' };
import { OVERLAY_DEFINITIONS } from './overlay.js';

const DOC_ID = 'https://api.machines.dev/machine-config.json';

interface Constraint {
  /** Where Fly documents the value set. */
  evidence: string;
  /** Definition and property it narrows, and the JSON-schema keywords added. */
  definition: string;
  property: string;
  add: Record<string, unknown>;
}

const PORT = { minimum: 1, maximum: 65535 };
const FLY_TOML_DOC = 'fly.io/docs/reference/configuration';

export const CONFIG_CONSTRAINTS: Constraint[] = [
  {
    definition: 'fly.MachineGuest',
    property: 'cpu_kind',
    add: { enum: ['shared', 'performance'] },
    evidence: 'fly.io/docs/machines/cpu-performance: "two kinds of virtual CPUs: shared and performance"',
  },
  { definition: 'fly.MachineGuest', property: 'cpus', add: { minimum: 1 }, evidence: `${FLY_TOML_DOC} [[vm]] cpus` },
  {
    definition: 'fly.MachineGuest',
    property: 'memory_mb',
    add: { minimum: 1 },
    evidence: `${FLY_TOML_DOC} [[vm]] memory`,
  },
  {
    definition: 'fly.MachineService',
    property: 'protocol',
    add: { enum: ['tcp', 'udp'] },
    evidence: `${FLY_TOML_DOC} [[services]] protocol: "tcp" or "udp"`,
  },
  {
    definition: 'fly.MachineService',
    property: 'internal_port',
    add: PORT,
    evidence: `${FLY_TOML_DOC} [[services]] internal_port (a TCP/UDP port)`,
  },
  { definition: 'fly.MachinePort', property: 'port', add: PORT, evidence: `${FLY_TOML_DOC} [[services.ports]] port` },
  {
    definition: 'fly.MachinePort',
    property: 'start_port',
    add: PORT,
    evidence: `${FLY_TOML_DOC} [[services.ports]] start_port`,
  },
  {
    definition: 'fly.MachinePort',
    property: 'end_port',
    add: PORT,
    evidence: `${FLY_TOML_DOC} [[services.ports]] end_port`,
  },
  {
    definition: 'fly.MachineServiceConcurrency',
    property: 'type',
    add: { enum: ['connections', 'requests'] },
    evidence: `${FLY_TOML_DOC} [services.concurrency] type: "connections" or "requests"`,
  },
  { definition: 'fly.MachineMetrics', property: 'port', add: PORT, evidence: `${FLY_TOML_DOC} [[metrics]] port` },
  {
    definition: 'fly.MachineRestart',
    property: 'max_retries',
    add: { minimum: 0 },
    evidence: `${FLY_TOML_DOC} [[restart]] retries`,
  },
];

/** One way a config breaks the schema: where (a path into the config) and the raw ajv error. */
export interface MachineConfigProblem {
  path: (string | number)[];
  error: ErrorObject;
}

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  const definitions = structuredClone(swagger.definitions) as Record<
    string,
    { properties?: Record<string, Record<string, unknown>> }
  >;
  for (const [name, entry] of Object.entries(OVERLAY_DEFINITIONS))
    definitions[name] = entry.value as (typeof definitions)[string];
  for (const c of CONFIG_CONSTRAINTS) {
    const prop = definitions[c.definition]?.properties?.[c.property];
    if (!prop) throw new Error(`CONFIG_CONSTRAINTS: ${c.definition}.${c.property} is not in the spec`);
    Object.assign(prop, c.add);
  }
  // verbose: errors carry the offending value, so messages can say what was written.
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, verbose: true });
  ajv.addSchema({ $id: DOC_ID, definitions: anchor(definitions) });
  compiled = ajv.compile({ $ref: `${DOC_ID}#/definitions/fly.MachineConfig` });
  return compiled;
}

/** Problems of `config` against fly.MachineConfig (with CONFIG_CONSTRAINTS); empty when Fly would take it. */
export function machineConfigProblems(config: unknown): MachineConfigProblem[] {
  const validate = validator();
  if (validate(config)) return [];
  return (validate.errors ?? []).map((error) => ({ path: pointerPath(error.instancePath), error }));
}

function pointerPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
}

function anchor(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(anchor);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${DOC_ID}${v}` : anchor(v);
  return out;
}
