// Fly's app secrets, as `runway sim serve` models them (the operations fly-go's flaps/flaps_secrets.go
// calls, in the spec overlay): per app, names with values, a digest and times, and a version that
// every change bumps. Lists show names and digests; values only with `show_secrets=true`, as on Fly.
// A machine created or updated with `min_secrets_version` gets the app's secrets as of then (a
// version the app has not reached is refused); the server remembers which version and names each
// machine got, never putting a value into its config. Kept in memory only: the state file holds no
// secret values.

import { createHash } from 'node:crypto';
import { HttpError } from './http-error.js';

interface SecretRecord {
  value: string;
  digest: string;
  createdAt: string;
  updatedAt: string;
}

interface AppRecord {
  version: number;
  secrets: Map<string, SecretRecord>;
}

export interface AppSecretJson {
  name: string;
  value?: string;
  digest: string;
  created_at: string;
  updated_at: string;
}

/** What a machine got: the app's secrets version and their names. */
export interface DeliveredSecrets {
  version: number;
  names: string[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class SimAppSecrets {
  private readonly apps = new Map<string, AppRecord>();
  private readonly machines = new Map<string, DeliveredSecrets>();

  constructor(private readonly now: () => number) {}

  list(app: string, show: boolean): { secrets: AppSecretJson[] } {
    return {
      secrets: [...this.app(app).secrets]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, s]) => json(name, s, show)),
    };
  }

  get(app: string, name: string, show: boolean): AppSecretJson {
    const secret = this.app(app).secrets.get(name);
    if (!secret) throw new HttpError(404, `secret ${name} not found`);
    return json(name, secret, show);
  }

  set(app: string, name: string, value: string): AppSecretJson & { version: number } {
    const { version } = this.update(app, { [name]: value });
    return { ...this.get(app, name, false), version };
  }

  delete(app: string, name: string): { version: number } {
    if (!this.app(app).secrets.has(name)) throw new HttpError(404, `secret ${name} not found`);
    return { version: this.update(app, { [name]: null }).version };
  }

  /** Set (string) and delete (null) in one change: one new version. */
  update(app: string, values: Record<string, string | null>): { secrets: AppSecretJson[]; version: number } {
    const record = this.app(app);
    for (const name of Object.keys(values))
      if (!NAME.test(name)) throw new HttpError(400, `invalid secret name "${name}"`);
    const at = new Date(this.now()).toISOString();
    for (const [name, value] of Object.entries(values)) {
      if (value === null) record.secrets.delete(name);
      else
        record.secrets.set(name, {
          value,
          digest: digest(value),
          createdAt: record.secrets.get(name)?.createdAt ?? at,
          updatedAt: at,
        });
    }
    record.version++;
    return { ...this.list(app, false), version: record.version };
  }

  /** Refuse a create or update asking for secrets newer than the app has (`min_secrets_version`). */
  check(app: string, min: number | undefined): void {
    const version = this.app(app).version;
    if (min !== undefined && min > version)
      throw new HttpError(
        400,
        `min_secrets_version ${min} is newer than the secrets of app ${app} (version ${version})`,
      );
  }

  /** A machine created or updated now gets the app's secrets as they are. */
  deliver(app: string, machineId: string): void {
    const record = this.app(app);
    this.machines.set(machineId, { version: record.version, names: [...record.secrets.keys()].sort() });
  }

  /** What a machine got (for tests and `/_sim/stats`); undefined when it got nothing yet. */
  delivered(machineId: string): DeliveredSecrets | undefined {
    return this.machines.get(machineId);
  }

  private app(app: string): AppRecord {
    let record = this.apps.get(app);
    if (!record) this.apps.set(app, (record = { version: 0, secrets: new Map() }));
    return record;
  }
}

function digest(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

function json(name: string, s: SecretRecord, show: boolean): AppSecretJson {
  const out: AppSecretJson = { name, digest: s.digest, created_at: s.createdAt, updated_at: s.updatedAt };
  if (show) out.value = s.value;
  return out;
}
