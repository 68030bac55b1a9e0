// Secret values at rest: AES-256-GCM with a random 96-bit IV per value, the value's place
// (app/env/name) as additional data so a ciphertext cannot be moved to another name, and a keyed
// digest (HMAC-SHA256) that says whether two values are equal without revealing either. Both keys
// are derived (HKDF-SHA256) from the one 32-byte secret key. Nothing here ever puts a value in an
// error message.

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretDecryptError extends Error {
  constructor(what: string) {
    super(`cannot decrypt secret ${what}: wrong RUNWAY_SECRET_KEY, or the stored value was altered`);
    this.name = 'SecretDecryptError';
  }
}

function subkey(key: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), `runway secrets ${FORMAT} ${purpose}`, 32));
}

/** Where a value lives: bound into the ciphertext. */
export function secretPlace(app: string, env: string, name: string): string {
  return `${app}\u0000${env}\u0000${name}`;
}

export function encryptSecret(key: Buffer, place: string, value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', subkey(key, 'encryption'), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(place, 'utf8'));
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return `${FORMAT}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
}

export function decryptSecret(
  key: Buffer,
  place: string,
  text: string,
  what = place.split('\u0000').join('/'),
): string {
  if (!text.startsWith(`${FORMAT}:`)) throw new SecretDecryptError(`${what} (unknown format)`);
  const raw = Buffer.from(text.slice(FORMAT.length + 1), 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretDecryptError(`${what} (truncated)`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', subkey(key, 'encryption'), raw.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(place, 'utf8'));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretDecryptError(what);
  }
}

/** Keyed digest of a value at its place: equal values at one place have equal digests; without the key it says nothing. */
export function secretDigest(key: Buffer, place: string, value: string): string {
  const mac = createHmac('sha256', subkey(key, 'digest'))
    .update(place, 'utf8')
    .update('\u0000')
    .update(value, 'utf8')
    .digest('hex');
  return `hmac-sha256:${mac.slice(0, 16)}`;
}

/**
 * Names the key without revealing it: kept with an environment's secrets, so a change under another
 * key (a typo'd RUNWAY_SECRET_KEY on one machine) is refused before anything is written, instead of
 * leaving secrets encrypted under two keys.
 */
export function keyFingerprint(key: Buffer): string {
  return `key:${createHmac('sha256', subkey(key, 'fingerprint')).update('runway key fingerprint').digest('hex').slice(0, 16)}`;
}
