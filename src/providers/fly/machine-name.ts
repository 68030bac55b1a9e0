// The Fly machine name of a launch. Fly names are unique per app among machines not destroyed, so a
// create carrying its launch's name cannot make a second machine: a late copy is refused instead
// (machine-create.ts). Launch ids (`deploy:group:role:n`, strategies/fleet-view.ts) are unique per
// app across deploys; the name keeps them readable and adds a hash of the whole id, since mapping
// them onto Fly's alphabet (lowercase letters, digits, dashes; under 63 characters) can merge two.

import { createHash } from 'node:crypto';

const MAX = 62;
const HASH = 8;

export function machineNameOf(launchId: string): string {
  const hash = createHash('sha256').update(launchId).digest('hex').slice(0, HASH);
  const readable = launchId
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, MAX - HASH - 1)
    .replace(/^-+|-+$/g, '');
  return readable ? `${readable}-${hash}` : `launch-${hash}`;
}

/** A create refused because the machine's name is in use (the spec gives no status: 409, 422 or a 4xx saying so). */
export function nameTaken(status: number | undefined, message: string): boolean {
  if (status === 409 || status === 422) return true;
  return status !== undefined && status >= 400 && status < 500 && /name.*(taken|exists|in use|already)/i.test(message);
}
