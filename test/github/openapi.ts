// GitHub's official OpenAPI description (@octokit/openapi, api.github.com) as a request and
// response validator for the test GitHub server: the path must be one GitHub documents for the
// method, path parameters and JSON bodies must match the documented schemas (ajv), and a request
// body may carry no property the description does not name.

import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, unknown>;
interface Operation {
  parameters?: Json[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Json }> };
  responses?: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

const require = createRequire(import.meta.url);
let spec: { paths: Record<string, Record<string, Operation>>; components: Json } | undefined;
function loadSpec() {
  spec ??= require('@octokit/openapi/generated/api.github.com.json') as typeof spec;
  return spec!;
}

/** Replace `#/components/...` references by what they name; a reference cycle becomes `{}` (anything). */
function resolve(node: unknown, root: Json, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => resolve(n, root, seen));
  if (!node || typeof node !== 'object') return node;
  const obj = node as Json;
  if (typeof obj.$ref === 'string') {
    const ref = obj.$ref;
    if (seen.includes(ref)) return {};
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((o, k) => (o as Json)[k.replace(/~1/g, '/').replace(/~0/g, '~')], root);
    return resolve(target, root, [...seen, ref]);
  }
  return Object.fromEntries(
    Object.entries(obj).map(([k, v]) => [k, k === 'example' || k === 'examples' ? v : resolve(v, root, seen)]),
  );
}

/** Top-level request body properties the description does not name are refused (GitHub ignores them; runway must not rely on that). */
function closed(schema: Json): Json {
  if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined)
    return { ...schema, additionalProperties: false };
  return schema;
}

export interface MatchedOperation {
  template: string;
  params: Record<string, string>;
}

export class GitHubOpenApi {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; regex: RegExp; names: string[] }[];

  constructor() {
    this.ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: false });
    const addFormats = addFormatsModule as unknown as (ajv: Ajv) => void;
    addFormats(this.ajv);
    const { paths } = loadSpec();
    this.templates = Object.keys(paths).map((template) => {
      const names: string[] = [];
      const regex = new RegExp(
        `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)'))}$`,
      );
      return { template, regex, names };
    });
  }

  /** The documented operation for a method and path, or an error message. */
  match(method: string, path: string): MatchedOperation | string {
    const m = method.toLowerCase();
    const { paths } = loadSpec();
    for (const t of this.templates) {
      const found = t.regex.exec(path);
      if (!found || !paths[t.template]?.[m]) continue;
      return {
        template: t.template,
        params: Object.fromEntries(t.names.map((n, i) => [n, decodeURIComponent(found[i + 1]!)])),
      };
    }
    return `${method} ${path} is not in GitHub's REST API description`;
  }

  private compiled(key: string, schema: () => Json): ValidateFunction {
    let v = this.cache.get(key);
    if (!v) {
      v = this.ajv.compile(schema());
      this.cache.set(key, v);
    }
    return v;
  }

  private operation(op: MatchedOperation, method: string): Operation {
    return loadSpec().paths[op.template]![method.toLowerCase()]!;
  }

  /** Problems with a request (empty when it is valid). */
  validateRequest(method: string, path: string, body: unknown): string[] {
    const op = this.match(method, path);
    if (typeof op === 'string') return [op];
    const problems: string[] = [];
    const operation = this.operation(op, method);
    const root = loadSpec() as unknown as Json;
    for (const p of (operation.parameters ?? []).map((x) => resolve(x, root) as Json)) {
      if (p.in !== 'path') continue;
      const name = p.name as string;
      const raw = op.params[name];
      const schema = p.schema as Json;
      const value = schema.type === 'integer' && /^-?\d+$/.test(raw ?? '') ? Number(raw) : raw;
      const v = this.compiled(`${op.template} ${method} param ${name}`, () => schema);
      if (!v(value)) problems.push(`path parameter ${name}=${raw}: ${this.ajv.errorsText(v.errors)}`);
    }
    const bodySchema = operation.requestBody?.content?.['application/json']?.schema;
    if (bodySchema && body === undefined) {
      if (operation.requestBody?.required) problems.push(`${method} ${op.template} requires a JSON body`);
    } else if (bodySchema) {
      const v = this.compiled(`${op.template} ${method} body`, () => closed(resolve(bodySchema, root) as Json));
      if (!v(body)) problems.push(`body: ${this.ajv.errorsText(v.errors, { dataVar: 'body' })}`);
    } else if (body !== undefined) {
      problems.push(`${method} ${op.template} takes no JSON body`);
    }
    return problems;
  }

  /** Problems with a response the test server is about to send (empty when it matches). */
  validateResponse(method: string, path: string, status: number, body: unknown): string[] {
    const op = this.match(method, path);
    if (typeof op === 'string') return [op];
    const schema = this.operation(op, method).responses?.[String(status)]?.content?.['application/json']?.schema;
    if (!schema) return [`${method} ${op.template} documents no JSON response ${status}`];
    const v = this.compiled(
      `${op.template} ${method} ${status}`,
      () => resolve(schema, loadSpec() as unknown as Json) as Json,
    );
    return v(body) ? [] : [`response ${status}: ${this.ajv.errorsText(v.errors, { dataVar: 'response' })}`];
  }
}
