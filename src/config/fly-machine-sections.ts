// fly.toml's sections that describe machines ([[vm]], [[services]], [http_service], [[restart]],
// [[mounts]], [env], [[statics]], [[metrics]], [[files]]) turned into the machine config they stand
// for, as flyctl turns them, and held to Fly's published schema (fly.MachineConfig, see
// src/providers/fly/spec/machine-config-check.ts) when runway reads the file. A fly.toml Fly would
// refuse fails here, as `fly.toml:LINE: key: problem`, before any deploy starts. These sections are
// strict: an unknown key in them is an error (a typo there silently changes a machine). Checks
// ([[services.http_checks]], [checks.NAME]…) are validated by fly-toml.ts, which reads them.

import { machineConfigProblems, type MachineConfigProblem } from '../providers/fly/spec/machine-config-check.js';
import { ConfigError } from './errors.js';
import { unknownKeysMessage } from './issues.js';
import { formatKey, lineOf, type KeyPath } from './key-lines.js';
import { describe } from './values.js';

type Table = Record<string, unknown>;
/** A fly.toml key: copied to the machine config under `to` (a path), checked only, or converted. */
type Field =
  | { to: KeyPath }
  | { check: 'processes' | 'string' | 'integer' | 'boolean' | 'any' }
  | { convert: (v: unknown) => { value: unknown } | { problem: string }; to: KeyPath }
  /** A table (or, with `many`, an array of tables) whose own keys are strict too. */
  | { nested: Record<string, Field>; many?: boolean; to: KeyPath };

const processes = { check: 'processes' } as const;
const copy = (...to: KeyPath) => ({ to });

const AUTOSTOP: Record<string, boolean> = { off: false, stop: true, suspend: true };
const autostop: Field = {
  to: ['autostop'],
  convert: (v) =>
    typeof v === 'boolean'
      ? { value: v }
      : typeof v === 'string' && Object.hasOwn(AUTOSTOP, v)
        ? { value: AUTOSTOP[v] }
        : { problem: `must be true, false, "off", "stop" or "suspend"; got ${describe(v)}` },
};

const PORTS: Field = {
  to: ['ports'],
  many: true,
  nested: {
    port: copy('port'),
    start_port: copy('start_port'),
    end_port: copy('end_port'),
    handlers: copy('handlers'),
    force_https: copy('force_https'),
    http_options: copy('http_options'),
    tls_options: copy('tls_options'),
    proxy_proto_options: copy('proxy_proto_options'),
  },
};

const CONCURRENCY: Field = {
  to: ['concurrency'],
  nested: { type: copy('type'), hard_limit: copy('hard_limit'), soft_limit: copy('soft_limit') },
};

const CHECKS_READ_ELSEWHERE = { check: 'any' } as const;

const SERVICE_FIELDS: Record<string, Field> = {
  internal_port: copy('internal_port'),
  protocol: copy('protocol'),
  processes,
  auto_stop_machines: autostop,
  auto_start_machines: copy('autostart'),
  min_machines_running: copy('min_machines_running'),
  concurrency: CONCURRENCY,
  http_checks: CHECKS_READ_ELSEWHERE,
  tcp_checks: CHECKS_READ_ELSEWHERE,
  machine_checks: CHECKS_READ_ELSEWHERE,
};

// flyctl writes memory as "512mb", "1gb" or a number of megabytes.
const MEMORY = /^(\d+)\s*(mb|gb)$/i;
const memory: Field = {
  to: ['memory_mb'],
  convert: (v) => {
    if (typeof v === 'number') return { value: v };
    const m = typeof v === 'string' ? MEMORY.exec(v.trim()) : null;
    if (!m)
      return {
        problem: `expected a memory size such as "512mb" or "1gb", or a number of megabytes; got ${describe(v)}`,
      };
    return { value: Number(m[1]) * (m[2]!.toLowerCase() === 'gb' ? 1024 : 1) };
  },
};

// fly.toml's words for the Machines API's "no", "always" and "on-failure" (flyctl converts them).
const RESTART: Record<string, string> = { never: 'no', always: 'always', 'on-failure': 'on-failure' };
const restartPolicy: Field = {
  to: ['policy'],
  convert: (v) =>
    typeof v === 'string' && Object.hasOwn(RESTART, v)
      ? { value: RESTART[v] }
      : { problem: `must be one of "always", "never", "on-failure"; got ${describe(v)}` },
};

/** One machine-config section of fly.toml: where its items go in the machine config, and its keys. */
interface Section {
  /** Where one item goes in the machine config (each item is checked as a config of its own). */
  at: KeyPath;
  /** Whether fly.toml writes it as a table or an array of tables (`[[vm]]` and `[vm]` both work). */
  many: boolean;
  fields: Record<string, Field> | 'map';
}

const SECTIONS: Record<string, Section> = {
  vm: {
    at: ['guest'],
    many: true,
    fields: {
      size: { check: 'string' },
      memory,
      memory_mb: copy('memory_mb'),
      cpus: copy('cpus'),
      cpu_kind: copy('cpu_kind'),
      gpus: copy('gpus'),
      gpu_kind: copy('gpu_kind'),
      kernel_args: copy('kernel_args'),
      host_dedication_id: copy('host_dedication_id'),
      persist_rootfs: { check: 'string' },
      processes,
    },
  },
  services: { at: ['services', 0], many: true, fields: { ...SERVICE_FIELDS, ports: PORTS } },
  http_service: {
    at: ['services', 0],
    many: false,
    fields: {
      internal_port: copy('internal_port'),
      force_https: copy('ports', 0, 'force_https'),
      auto_stop_machines: autostop,
      auto_start_machines: copy('autostart'),
      min_machines_running: copy('min_machines_running'),
      processes,
      concurrency: CONCURRENCY,
      http_options: copy('ports', 0, 'http_options'),
      tls_options: copy('ports', 1, 'tls_options'),
      checks: CHECKS_READ_ELSEWHERE,
      machine_checks: CHECKS_READ_ELSEWHERE,
    },
  },
  restart: { at: ['restart'], many: true, fields: { policy: restartPolicy, retries: copy('max_retries'), processes } },
  mounts: {
    at: ['mounts', 0],
    many: true,
    fields: {
      source: copy('name'),
      destination: copy('path'),
      processes,
      initial_size: { check: 'string' },
      snapshot_retention: { check: 'integer' },
      scheduled_snapshots: { check: 'boolean' },
      auto_extend_size_threshold: copy('extend_threshold_percent'),
      auto_extend_size_increment: { check: 'string' },
      auto_extend_size_limit: { check: 'string' },
    },
  },
  env: { at: ['env'], many: false, fields: 'map' },
  statics: {
    at: ['statics', 0],
    many: true,
    fields: {
      guest_path: copy('guest_path'),
      url_prefix: copy('url_prefix'),
      tigris_bucket: copy('tigris_bucket'),
      index_document: { check: 'string' },
    },
  },
  metrics: {
    at: ['metrics'],
    many: true,
    fields: { port: copy('port'), path: copy('path'), https: { check: 'boolean' }, processes },
  },
  files: {
    at: ['files', 0],
    many: true,
    fields: {
      guest_path: copy('guest_path'),
      local_path: { check: 'string' },
      secret_name: copy('secret_name'),
      raw_value: copy('raw_value'),
      processes,
    },
  },
};

/** A machine config built from one fly.toml item, and which fly.toml key each part came from. */
interface Fragment {
  config: Table;
  origins: { machine: KeyPath; toml: KeyPath }[];
}

/** Problems of fly.toml's machine sections, located in `file` (empty when Fly would take them). */
export function machineSectionErrors(doc: Table, file: string, lines: Map<string, number>): ConfigError[] {
  const errors: ConfigError[] = [];
  const fail = (toml: KeyPath, problem: string) =>
    errors.push(new ConfigError({ file, key: formatKey(toml), line: lineOf(lines, toml), problem }));
  for (const [name, section] of Object.entries(SECTIONS)) {
    const value = doc[name];
    if (value === undefined) continue;
    const items: [unknown, KeyPath][] =
      section.many && Array.isArray(value) ? value.map((v, i) => [v, [name, i]]) : [[value, [name]]];
    for (const [item, toml] of items) {
      if (!isTable(item)) {
        fail(toml, `expected a table${section.many ? ' or an array of tables' : ''}, got ${describe(item)}`);
        continue;
      }
      const fragment: Fragment = { config: {}, origins: [] };
      const { at } = section;
      put(fragment, at, section.fields === 'map' ? item : {}, toml);
      if (section.fields !== 'map') translate(item, section.fields, at, toml, fragment, fail);
      if (name === 'http_service') httpServicePorts(fragment, at);
      for (const p of machineConfigProblems(fragment.config)) {
        const path = p.error.keyword === 'required' ? [...p.path, String(p.error.params.missingProperty)] : p.path;
        fail(tomlPath(fragment, path), problemText(p));
      }
    }
  }
  // [http_service]'s options go to both of its ports: one mistake, one message.
  return errors.filter((e, i) => errors.findIndex((x) => x.message === e.message) === i);
}

/** Copies `item`'s keys into the fragment; a key unknown or unusable is reported and left out. */
function translate(
  item: Table,
  fields: Record<string, Field>,
  at: KeyPath,
  toml: KeyPath,
  fragment: Fragment,
  fail: (toml: KeyPath, problem: string) => void,
): void {
  for (const k of Object.keys(item))
    if (!Object.hasOwn(fields, k)) fail([...toml, k], unknownKeysMessage([k], Object.keys(fields)));
  for (const [key, field] of Object.entries(fields)) {
    const v = item[key];
    if (v === undefined) continue;
    if ('check' in field) {
      const problem = checkOnly(field.check, v);
      if (problem) fail([...toml, key], problem);
    } else if ('nested' in field) {
      const parts: [unknown, KeyPath, KeyPath][] =
        field.many && Array.isArray(v)
          ? v.map((x, n) => [x, [...toml, key, n], [...at, ...field.to, n]])
          : [[v, [...toml, key], [...at, ...field.to]]];
      for (const [x, xToml, xAt] of parts) {
        if (!isTable(x)) {
          fail(xToml, `expected a table${field.many ? ' or an array of tables' : ''}, got ${describe(x)}`);
          continue;
        }
        put(fragment, xAt, {}, xToml);
        translate(x, field.nested, xAt, xToml, fragment, fail);
      }
    } else if ('convert' in field) {
      const r = field.convert(v);
      if ('problem' in r) fail([...toml, key], r.problem);
      else put(fragment, [...at, ...field.to], r.value, [...toml, key]);
    } else put(fragment, [...at, ...field.to], v, [...toml, key]);
  }
}

function checkOnly(kind: 'processes' | 'string' | 'integer' | 'boolean' | 'any', v: unknown): string | undefined {
  switch (kind) {
    case 'processes':
      return Array.isArray(v) && v.every((p) => typeof p === 'string')
        ? undefined
        : `expected an array of process group names, got ${describe(v)}`;
    case 'string':
      return typeof v === 'string' ? undefined : `expected a string, got ${describe(v)}`;
    case 'integer':
      return Number.isInteger(v) ? undefined : `expected a whole number, got ${describe(v)}`;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `expected a boolean, got ${describe(v)}`;
    default:
      return undefined;
  }
}

/** [http_service] is a TCP service on ports 80 (http) and 443 (tls + http), as flyctl builds it. */
function httpServicePorts(fragment: Fragment, at: KeyPath): void {
  const service = get(fragment.config, at) as Table;
  service.protocol = 'tcp';
  const ports = (service.ports as Table[] | undefined) ?? [];
  for (const o of [...fragment.origins]) {
    if (
      o.machine.length > at.length + 2 &&
      o.machine[at.length] === 'ports' &&
      o.machine[at.length + 1] === 0 &&
      o.machine[at.length + 2] === 'http_options'
    ) {
      fragment.origins.push({ machine: [...at, 'ports', 1, ...o.machine.slice(at.length + 2)], toml: o.toml });
    }
  }
  service.ports = [
    { ...ports[0], port: 80, handlers: ['http'] },
    {
      ...ports[1],
      port: 443,
      handlers: ['tls', 'http'],
      ...(ports[0]?.http_options !== undefined ? { http_options: ports[0].http_options } : {}),
    },
  ];
}

function put(fragment: Fragment, machine: KeyPath, value: unknown, toml: KeyPath): void {
  let node: Record<string | number, unknown> = fragment.config;
  machine.forEach((seg, n) => {
    if (n === machine.length - 1) node[seg] = value;
    else node = (node[seg] ??= typeof machine[n + 1] === 'number' ? [] : {}) as Record<string | number, unknown>;
  });
  fragment.origins.push({ machine, toml });
}

function get(config: Table, path: KeyPath): unknown {
  let node: unknown = config;
  for (const seg of path) node = (node as Record<string | number, unknown> | undefined)?.[seg];
  return node;
}

/** The fly.toml key of a machine-config path: the longest recorded prefix, plus the rest of the path. */
function tomlPath(fragment: Fragment, machine: KeyPath): KeyPath {
  let best: { machine: KeyPath; toml: KeyPath } | undefined;
  for (const o of fragment.origins) {
    if (
      o.machine.length <= machine.length &&
      o.machine.every((seg, i) => seg === machine[i]) &&
      (!best || o.machine.length > best.machine.length)
    )
      best = o;
  }
  return best ? [...best.toml, ...machine.slice(best.machine.length)] : machine;
}

/** ajv's error as a sentence in the words of runway's other config errors. */
function problemText({ error }: MachineConfigProblem): string {
  const got = describe(error.data);
  switch (error.keyword) {
    case 'type': {
      const t = String(error.params.type);
      const expected =
        t === 'integer' ? 'a whole number' : t === 'object' ? 'a table' : t === 'array' ? 'an array' : `a ${t}`;
      return `expected ${expected}, got ${got}`;
    }
    case 'enum':
      return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}; got ${got}`;
    case 'minimum':
      return `must be at least ${String(error.params.limit)}; got ${got}`;
    case 'maximum':
      return `must be at most ${String(error.params.limit)}; got ${got}`;
    case 'required':
      return 'missing (required)';
    default:
      return `${error.message ?? 'invalid'}; got ${got}`;
  }
}

function isTable(v: unknown): v is Table {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
