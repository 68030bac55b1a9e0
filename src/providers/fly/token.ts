// The Fly API token: read once, kept in a wrapper that never prints it. Errors, logs, `--json` and
// the journal only ever see "[redacted]"; every message built from an API answer is passed through
// `redact` as a second line of defence (an API that echoed the token would still not leak it).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect } from 'node:util';

export class FlyToken {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value.trim();
    if (!this.#value) throw new Error('empty Fly API token');
  }

  /** The Authorization header: macaroon tokens ("FlyV1 fm2_…") go as they are, others as Bearer (as flyctl does). */
  authorization(): string {
    return this.#value.startsWith('FlyV1 ') ? this.#value : `Bearer ${this.#value}`;
  }

  /** `text` with every occurrence of the token (and of its bare macaroon part) replaced. */
  redact(text: string): string {
    let out = text;
    for (const secret of [this.#value, this.#value.replace(/^FlyV1 /, '')]) {
      if (secret.length >= 4) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  toString(): string {
    return '[redacted Fly API token]';
  }

  toJSON(): string {
    return '[redacted Fly API token]';
  }

  [inspect.custom](): string {
    return '[redacted Fly API token]';
  }
}

export interface TokenSource {
  /** `[environments.X.fly] token_file`, relative to `dir`. */
  tokenFile?: string;
  dir: string;
  processEnv: NodeJS.ProcessEnv;
}

/**
 * The token from `token_file` when configured (it names the file on purpose, so it wins), else from
 * $FLY_API_TOKEN. Throws a plain Error with what to do; the session turns it into a setup error.
 */
export function readFlyToken({ tokenFile, dir, processEnv }: TokenSource): FlyToken {
  if (tokenFile !== undefined) {
    const file = resolve(dir, tokenFile);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(
        `token_file ${file}: ${code === 'ENOENT' ? 'not found' : `cannot read (${code ?? (e as Error).message})`}`,
      );
    }
    if (!text.trim()) throw new Error(`token_file ${file} is empty`);
    return new FlyToken(text);
  }
  const fromEnv = processEnv.FLY_API_TOKEN;
  if (!fromEnv?.trim()) throw new Error('no Fly API token: set FLY_API_TOKEN or [environments.<env>.fly] token_file');
  return new FlyToken(fromEnv);
}
