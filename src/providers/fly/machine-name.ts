// The Fly machine names of a launch. Fly keeps names unique (the spec: "Unique name for this
// Machine"), so a create that carries the same name as every other copy of it cannot make a second
// machine: whichever copy the API applies second is refused (machine-create.ts). The readable part of
// a name is the launch id in Fly's alphabet (lowercase letters, digits, dashes; under 63 characters);
// a hash of the launch id, a salt and an incarnation number keeps distinct ones apart.
//
// The salt is the deploy's id, so every runway process of a deploy — one killed with a create in
// flight, and the one that resumed the deploy — names a launch's create the same, and Fly refuses the
// dead process's copy if it lands late (a create with no deploy id gets a salt random per process,
// and that guarantee only within the process). The incarnation k counts the machines a launch has had:
// a launch id is handed out again once its machine is gone (a re-plan), and Fly may keep a destroyed
// machine's name taken (Machines_list's include_deleted shows destroyed machines; whether their names
// are free again is not documented), so the launch's next machine is created as k + 1.

import { createHash } from 'node:crypto';

const MAX = 62;
const HASH = 10;
/** Most machines one launch id may have had; past it a create is a conflict (a re-plan loop, not a fleet). */
export const MAX_INCARNATIONS = 32;

export function machineNameOf(launchId: string, salt = ''): string {
  const hash = createHash('sha256').update(`${launchId}\u0000${salt}`).digest('hex').slice(0, HASH);
  const readable = launchId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX - HASH - 1)
    .replace(/^-+|-+$/g, '');
  return readable ? `${readable}-${hash}` : `launch-${hash}`;
}

/** The names of one launch's machines: incarnation k's is the same in every process of the deploy. */
export class LaunchNames {
  private readonly salt: string;
  private readonly cache: string[] = [];

  /** `processSalt`: the salt of a create that has no deploy id. */
  constructor(
    readonly launchId: string,
    deployId: string | undefined,
    processSalt: string,
  ) {
    this.salt = deployId === undefined ? `process:${processSalt}` : `deploy:${deployId}`;
  }

  nameOf(k: number): string {
    return (this.cache[k] ??= machineNameOf(this.launchId, `${this.salt}.${k}`));
  }

  /** The incarnation `name` is of, if it is one of this launch's names. */
  incarnationOf(name: string | undefined): number | undefined {
    if (name === undefined) return undefined;
    for (let k = 0; k < MAX_INCARNATIONS; k++) if (this.nameOf(k) === name) return k;
    return undefined;
  }
}

/** A create refused because the machine's name is in use (the spec gives no status: 409, 422 or a 4xx saying so). */
export function nameTaken(status: number | undefined, message: string): boolean {
  if (status === 409) return true;
  if (status === 422) return /name|exist|taken|in use/i.test(message);
  return status !== undefined && status >= 400 && status < 500 && /name.*(taken|exists|in use|already)/i.test(message);
}
