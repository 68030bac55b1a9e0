// What Fly accepts on the wire that its published Swagger (fly-machines-swagger.json, older than Fly)
// does not say. Kept small and explicit, each entry with the evidence from superfly/fly-go (flyctl's
// own client, commit 22d6e518), instead of loosening the check: everything not listed here is held
// to the published spec. The overlay only adds what runway sends or `sim serve` answers.

/** A query parameter as Swagger 2.0 declares one. */
export interface SpecParameter {
  name: string;
  in: 'query' | 'path' | 'body' | 'header';
  type?: 'string' | 'integer' | 'boolean' | 'number' | 'array';
  enum?: unknown[];
  required?: boolean;
  schema?: unknown;
}

export interface SpecOperation {
  operationId: string;
  parameters?: SpecParameter[];
  responses: Record<string, { schema?: unknown }>;
}

interface OverlayEntry<T> {
  /** Where fly-go shows Fly accepting it. */
  evidence: string;
  value: T;
}

/** Query parameters added to operations of the spec, by operationId. */
export const OVERLAY_PARAMETERS: Record<string, OverlayEntry<SpecParameter>[]> = {
  Machines_delete: [
    {
      evidence: 'flaps/flaps_machines.go Destroy: `/%s?kill=%t` (the spec still says `force`)',
      value: { name: 'kill', in: 'query', type: 'boolean' },
    },
  ],
  Machines_create_lease: [
    {
      evidence: 'flaps/flaps_machines.go AcquireLease and RefreshLease: `/%s/lease?ttl=%d`',
      value: { name: 'ttl', in: 'query', type: 'integer' },
    },
  ],
  Machines_update_metadata: [
    {
      evidence: 'flaps/flaps_machines.go SetMetadata: POSTs `{"value": value}` (the spec declares no body)',
      value: {
        name: 'request',
        in: 'body',
        required: true,
        schema: { type: 'object', required: ['value'], properties: { value: { type: 'string' } } },
      },
    },
  ],
  Machines_wait: [
    {
      evidence: 'flaps/flaps_machines_wait.go waitQuerystring: `url:"version,omitempty"` (the spec says `instance_id`)',
      value: { name: 'version', in: 'query', type: 'string' },
    },
  ],
};

/** Definitions replaced: the spec publishes them in a shape Fly does not send or accept. */
export const OVERLAY_DEFINITIONS: Record<string, OverlayEntry<unknown>> = {
  'fly.Duration': {
    evidence:
      'duration.go: `Duration.MarshalJSON` writes `d.String()` (e.g. "15s"), `ParseDuration` reads a Go duration string or a number of nanoseconds; the spec publishes a Go struct',
    // Go's time.ParseDuration: "0", "1h2m3s", "1.5s", "300ms", "2µs"…; or integer nanoseconds.
    value: {
      anyOf: [{ type: 'string', pattern: '^(0|[-+]?([0-9]*(\\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$' }, { type: 'integer' }],
    },
  },
  // The lease endpoints answer fly-go's MachineLease, the Lease inside `data`.
  MachineLease: {
    evidence:
      'machine_types.go MachineLease {status, data: MachineLeaseData, message, code}; flaps AcquireLease/GetLease decode into it',
    value: {
      type: 'object',
      properties: {
        status: { type: 'string' },
        data: { $ref: '#/definitions/Lease' },
        message: { type: 'string' },
        code: { type: 'string' },
      },
    },
  },
  AppSecret: {
    evidence: 'secrets_types.go AppSecret {name, value?, digest, updated_at, created_at}',
    value: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        value: { type: 'string' },
        digest: { type: 'string' },
        updated_at: { type: 'string' },
        created_at: { type: 'string' },
      },
    },
  },
};

const SECRETS_EVIDENCE =
  'flaps/flaps_secrets.go: `/apps/%s/secrets%s` (ListAppSecrets, GetAppSecrets, SetAppSecret, DeleteAppSecret, UpdateAppSecrets); bodies in secrets_types.go';
const secretPath = [
  { name: 'app_name', in: 'path', type: 'string', required: true },
  { name: 'secret_name', in: 'path', type: 'string', required: true },
] as const satisfies SpecParameter[];
const appPath = [{ name: 'app_name', in: 'path', type: 'string', required: true }] as const satisfies SpecParameter[];
const secretList = {
  type: 'object',
  required: ['secrets'],
  properties: { secrets: { type: 'array', items: { $ref: '#/definitions/AppSecret' } } },
};
const version = { type: 'integer', minimum: 0 };

/** Operations the spec does not have at all, by path (below /v1) and method. */
export const OVERLAY_PATHS: Record<string, Record<string, OverlayEntry<SpecOperation>>> = {
  '/apps/{app_name}/secrets': {
    get: {
      evidence: SECRETS_EVIDENCE,
      value: {
        operationId: 'AppSecrets_list',
        parameters: [
          ...appPath,
          { name: 'version', in: 'query', type: 'integer' },
          { name: 'show_secrets', in: 'query', type: 'boolean' },
        ],
        responses: { '200': { schema: secretList } },
      },
    },
    post: {
      evidence: SECRETS_EVIDENCE,
      value: {
        operationId: 'AppSecrets_update',
        parameters: [
          ...appPath,
          {
            name: 'request',
            in: 'body',
            required: true,
            // Values to set; null deletes (UpdateAppSecretsRequest.Values map[string]*string).
            schema: {
              type: 'object',
              required: ['values'],
              properties: { values: { type: 'object', additionalProperties: { type: ['string', 'null'] } } },
            },
          },
        ],
        responses: {
          '200': {
            schema: {
              ...secretList,
              required: ['secrets', 'version'],
              properties: { ...secretList.properties, version },
            },
          },
        },
      },
    },
  },
  '/apps/{app_name}/secrets/{secret_name}': {
    get: {
      evidence: SECRETS_EVIDENCE,
      value: {
        operationId: 'AppSecrets_get',
        parameters: [
          ...secretPath,
          { name: 'version', in: 'query', type: 'integer' },
          { name: 'show_secrets', in: 'query', type: 'boolean' },
        ],
        responses: { '200': { schema: { $ref: '#/definitions/AppSecret' } } },
      },
    },
    post: {
      evidence: SECRETS_EVIDENCE,
      value: {
        operationId: 'AppSecrets_set',
        parameters: [
          ...secretPath,
          {
            name: 'request',
            in: 'body',
            required: true,
            schema: { type: 'object', required: ['value'], properties: { value: { type: 'string' } } },
          },
        ],
        responses: {
          '200': {
            schema: {
              allOf: [
                { $ref: '#/definitions/AppSecret' },
                { type: 'object', required: ['version'], properties: { version } },
              ],
            },
          },
        },
      },
    },
    delete: {
      evidence: SECRETS_EVIDENCE,
      value: {
        operationId: 'AppSecrets_delete',
        parameters: [...secretPath],
        responses: { '200': { schema: { type: 'object', required: ['version'], properties: { version } } } },
      },
    },
  },
};

/** Responses whose schema the overlay replaces, by operationId and status. */
export const OVERLAY_RESPONSES: Record<string, OverlayEntry<Record<string, { schema?: unknown }>>> = {
  Machines_create_lease: {
    evidence: OVERLAY_DEFINITIONS.MachineLease!.evidence,
    value: { '200': { schema: { $ref: '#/definitions/MachineLease' } } },
  },
  Machines_show_lease: {
    evidence: OVERLAY_DEFINITIONS.MachineLease!.evidence,
    value: { '200': { schema: { $ref: '#/definitions/MachineLease' } } },
  },
};
