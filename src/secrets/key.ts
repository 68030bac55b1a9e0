// The secret key that encrypts secret values at rest: 32 bytes, written as base64 or hex, from
// $RUNWAY_SECRET_KEY, or from a file ($RUNWAY_SECRET_KEY_FILE, or `[secrets] key_file` in
// runway.toml). Generate one with `openssl rand -base64 32`.

import { readFileSync, statSync } from 'node:fs';

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

const HOW =
  'set RUNWAY_SECRET_KEY to 32 random bytes in base64 or hex (generate one with `openssl rand -base64 32`), or name a file holding it with RUNWAY_SECRET_KEY_FILE or [secrets] key_file in runway.toml';

function decodeKey(text: string, source: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t))
    key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  // Never echo the text: it may be a key with a typo.
  if (!key || key.length !== 32)
    throw new SecretKeyError(`${source} is not a 32-byte key in base64 or hex (${t.length} characters); ${HOW}`);
  return key;
}

export interface SecretKeySources {
  env: NodeJS.ProcessEnv;
  /** `[secrets] key_file`, already absolute. */
  keyFile?: string | undefined;
}

/** The key, or SecretKeyError saying exactly what is missing or wrong. */
export function loadSecretKey(sources: SecretKeySources): Buffer {
  const inline = sources.env.RUNWAY_SECRET_KEY;
  if (inline !== undefined && inline.trim() !== '') return decodeKey(inline, 'RUNWAY_SECRET_KEY');
  const file = sources.env.RUNWAY_SECRET_KEY_FILE || sources.keyFile;
  if (file) {
    let text: string;
    try {
      refuseSharedFile(file, (m) => new SecretKeyError(m));
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof SecretKeyError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new SecretKeyError(
        `secret key file ${file}: ${code === 'ENOENT' ? 'not found' : `cannot read (${code ?? 'error'})`}; ${HOW}`,
      );
    }
    return decodeKey(text, `secret key file ${file}`);
  }
  throw new SecretKeyError(`no secret key: ${HOW}`);
}

/**
 * A file holding a key (the secret key, the webhook secret) must be readable by its owner only: one
 * that group or others may read is refused, saying how to fix it. (No-op on Windows, which has no modes.)
 */
export function refuseSharedFile(file: string, error: (message: string) => Error): void {
  if (process.platform === 'win32') return;
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw error(
      `${file} is readable by ${mode & 0o007 ? 'others' : 'its group'} (mode 0${mode.toString(8)}); a key file must be the owner's alone: chmod 600 ${file}`,
    );
  }
}
