// Fly's published Machines API (Swagger 2.0, fly-machines-swagger.json) plus the documented overlay of
// what Fly accepts beyond it (overlay.ts), as a checker of requests and answers. Used by `runway sim
// serve` to refuse what Fly would refuse, and by the conformance suite to hold the fly client and the
// server to the spec rather than to each other. Schemas are checked by ajv; definitions allow
// properties they do not list (as the spec's do), so only known fields are held to their types.

import { Ajv, type ValidateFunction } from 'ajv';
import swagger from './fly-machines-swagger.json' with { type: 'json' };
import {
  OVERLAY_DEFINITIONS,
  OVERLAY_PARAMETERS,
  OVERLAY_PATHS,
  OVERLAY_RESPONSES,
  type SpecOperation,
  type SpecParameter,
} from './overlay.js';

const DOC_ID = 'https://api.machines.dev/swagger.json';
/** The spec's base path: every operation's path is below it. */
export const SPEC_BASE_PATH = '/v1';

export interface Operation {
  operationId: string;
  method: string;
  /** Path template below /v1, e.g. `/apps/{app_name}/machines/{machine_id}`. */
  template: string;
  /** From the overlay, not the published spec. */
  overlay: boolean;
  query: Map<string, SpecParameter>;
  body?: ValidateFunction;
  bodyRequired: boolean;
  responses: Map<string, ValidateFunction | undefined>;
}

export interface RequestToCheck {
  method: string;
  /** Full path, e.g. `/v1/apps/x/machines`. */
  path: string;
  /** Query parameters as sent (a name sent twice counts as an array). */
  query: Record<string, string | string[]>;
  /** Parsed JSON body, or undefined when none was sent. */
  body?: unknown;
}

export type Check =
  { ok: true; operation: Operation } | { ok: false; operation?: Operation; status: 400 | 404 | 405; problem: string };

/** The published spec with the overlay, compiled once per process. */
export class FlySpec {
  readonly operations: Operation[] = [];
  private readonly ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  private readonly errorBody: ValidateFunction;

  constructor() {
    const definitions: Record<string, unknown> = { ...(swagger.definitions as Record<string, unknown>) };
    for (const [name, entry] of Object.entries(OVERLAY_DEFINITIONS)) definitions[name] = entry.value;
    this.ajv.addSchema({ $id: DOC_ID, definitions: anchorRefs(definitions) });
    // Fly's error shape (fly-go flaps errorResponse): `error` is the one thing every error answer has.
    this.errorBody = this.compile({
      allOf: [
        { $ref: '#/definitions/ErrorResponse' },
        { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
      ],
    });
    const paths = swagger.paths as Record<string, Record<string, SpecOperation>>;
    for (const [template, methods] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(methods)) this.add(template, method, op, false);
    }
    for (const [template, methods] of Object.entries(OVERLAY_PATHS)) {
      for (const [method, entry] of Object.entries(methods)) this.add(template, method, entry.value, true);
    }
  }

  /** The operation of a method and full path, if the spec (or overlay) has one. */
  match(method: string, path: string): Operation | { methodless: true } | undefined {
    if (!path.startsWith(`${SPEC_BASE_PATH}/`)) return undefined;
    const parts = path.slice(SPEC_BASE_PATH.length).split('/');
    let pathFound = false;
    for (const op of this.operations) {
      const t = op.template.split('/');
      if (t.length !== parts.length || !t.every((seg, i) => (seg.startsWith('{') ? parts[i] !== '' : seg === parts[i])))
        continue;
      pathFound = true;
      if (op.method === method.toLowerCase()) return op;
    }
    return pathFound ? { methodless: true } : undefined;
  }

  /** Whether Fly would take this request: a route of the spec, declared query parameters of the right type, a body of the right shape. */
  checkRequest(req: RequestToCheck): Check {
    const found = this.match(req.method, req.path);
    if (!found) return { ok: false, status: 404, problem: `no such operation: ${req.method} ${req.path}` };
    if ('methodless' in found)
      return { ok: false, status: 405, problem: `method ${req.method} not allowed on ${req.path}` };
    const op = found;
    for (const [name, raw] of Object.entries(req.query)) {
      const param = op.query.get(name);
      if (!param)
        return {
          ok: false,
          operation: op,
          status: 400,
          problem: `${op.operationId}: query parameter "${name}" is not accepted (accepted: ${[...op.query.keys()].join(', ') || 'none'})`,
        };
      const values = Array.isArray(raw) ? raw : [raw];
      if (values.length > 1 && param.type !== 'array')
        return {
          ok: false,
          operation: op,
          status: 400,
          problem: `${op.operationId}: query parameter "${name}" given ${values.length} times`,
        };
      for (const value of values) {
        const problem = queryValueProblem(param, value);
        if (problem)
          return {
            ok: false,
            operation: op,
            status: 400,
            problem: `${op.operationId}: query parameter "${name}": ${problem}`,
          };
      }
    }
    if (op.body) {
      if (req.body === undefined && op.bodyRequired)
        return { ok: false, operation: op, status: 400, problem: `${op.operationId}: a request body is required` };
      if (req.body !== undefined && !op.body(req.body))
        return {
          ok: false,
          operation: op,
          status: 400,
          problem: `${op.operationId}: invalid request body: ${this.ajv.errorsText(op.body.errors, { dataVar: 'body' })}`,
        };
    } else if (
      req.body !== undefined &&
      req.body !== null &&
      !(typeof req.body === 'object' && Object.keys(req.body).length === 0)
    ) {
      return { ok: false, operation: op, status: 400, problem: `${op.operationId}: takes no request body` };
    }
    return { ok: true, operation: op };
  }

  /** Problems of an answer to `op`: a 2xx status the operation declares, with a body of its schema; any error in Fly's error shape. Empty when fine. */
  checkResponse(op: Operation, status: number, body: unknown): string[] {
    if (status >= 200 && status < 300) {
      if (!op.responses.has(String(status)))
        return [`${op.operationId}: answered ${status}, the spec declares ${[...op.responses.keys()].join(', ')}`];
      const validate = op.responses.get(String(status));
      if (validate && !validate(body))
        return [`${op.operationId} ${status}: ${this.ajv.errorsText(validate.errors, { dataVar: 'response' })}`];
      return [];
    }
    if (!this.errorBody(body))
      return [
        `${op.operationId} ${status}: not Fly's error shape: ${this.ajv.errorsText(this.errorBody.errors, { dataVar: 'response' })}`,
      ];
    return [];
  }

  /** The evidence of an overlay operation or parameter, for docs and messages. */
  static overlayEvidence(): string[] {
    const out: string[] = [];
    for (const [op, entries] of Object.entries(OVERLAY_PARAMETERS))
      for (const e of entries) out.push(`${op} ?${e.value.name}: ${e.evidence}`);
    for (const [path, methods] of Object.entries(OVERLAY_PATHS))
      for (const [m, e] of Object.entries(methods)) out.push(`${m.toUpperCase()} ${path}: ${e.evidence}`);
    for (const [name, e] of Object.entries(OVERLAY_DEFINITIONS)) out.push(`definition ${name}: ${e.evidence}`);
    return out;
  }

  private add(template: string, method: string, op: SpecOperation, overlay: boolean): void {
    const params = [...(op.parameters ?? []), ...(OVERLAY_PARAMETERS[op.operationId] ?? []).map((e) => e.value)];
    const query = new Map(params.filter((p) => p.in === 'query').map((p) => [p.name, p]));
    const bodyParam = params.find((p) => p.in === 'body');
    const responses = new Map<string, ValidateFunction | undefined>();
    for (const [status, r] of Object.entries({ ...op.responses, ...OVERLAY_RESPONSES[op.operationId]?.value })) {
      responses.set(status, r.schema === undefined ? undefined : this.compile(r.schema));
    }
    this.operations.push({
      operationId: op.operationId,
      method,
      template,
      overlay,
      query,
      body: bodyParam?.schema === undefined ? undefined : this.compile(bodyParam.schema),
      bodyRequired: bodyParam?.required === true,
      responses,
    });
  }

  private compile(schema: unknown): ValidateFunction {
    return this.ajv.compile(anchorRefs(schema) as object);
  }
}

/** Swagger 2.0 query values are strings on the wire: hold them to the declared type and enum. */
function queryValueProblem(param: SpecParameter, value: string): string | undefined {
  switch (param.type) {
    case 'boolean':
      if (value !== 'true' && value !== 'false') return `"${value}" is not a boolean (true or false)`;
      break;
    case 'integer':
      if (!/^-?\d+$/.test(value)) return `"${value}" is not an integer`;
      break;
    case 'number':
      if (value.trim() === '' || !Number.isFinite(Number(value))) return `"${value}" is not a number`;
      break;
    default:
      break;
  }
  if (param.enum && !param.enum.map(String).includes(value)) return `"${value}" is not one of ${param.enum.join(', ')}`;
  return undefined;
}

/** `#/definitions/X` refs point into the shared document once the schema is compiled on its own. */
function anchorRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(anchorRefs);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema))
    out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${DOC_ID}${v}` : anchorRefs(v);
  return out;
}

let shared: FlySpec | undefined;

/** The process's FlySpec (compiling it takes a moment; it never changes). */
export function flySpec(): FlySpec {
  shared ??= new FlySpec();
  return shared;
}
