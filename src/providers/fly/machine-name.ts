// The Fly machine name of a create. Fly keeps names unique (the spec: "Unique name for this Machine"),
// so a create that carries the same name as an earlier attempt of its launch cannot make a second
// machine: a late copy is refused instead (machine-create.ts). Whether Fly frees the name of a
// destroyed machine is not documented, so a name is never used for two machines: each incarnation of
// a launch (a launch id is handed out again once its machine is gone) gets its own, and so does each
// runway process (`salt`). The readable part is the launch id in Fly's alphabet (lowercase letters,
// digits, dashes; under 63 characters); a hash of the launch id and salt keeps distinct ones apart.

import { createHash } from 'node:crypto';

const MAX = 62;
const HASH = 10;

export function machineNameOf(launchId: string, salt = ''): string {
  const hash = createHash('sha256').update(`${launchId}\u0000${salt}`).digest('hex').slice(0, HASH);
  const readable = launchId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX - HASH - 1)
    .replace(/^-+|-+$/g, '');
  return readable ? `${readable}-${hash}` : `launch-${hash}`;
}

/** A create refused because the machine's name is in use (the spec gives no status: 409, 422 or a 4xx saying so). */
export function nameTaken(status: number | undefined, message: string): boolean {
  if (status === 409) return true;
  if (status === 422) return /name|exist|taken|in use/i.test(message);
  return status !== undefined && status >= 400 && status < 500 && /name.*(taken|exists|in use|already)/i.test(message);
}
