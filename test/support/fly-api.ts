// A test's own reads of a Machines API (`runway sim serve`) over real HTTP. Like any Fly client it
// waits out a 429 for as long as the server's Retry-After says (the deploy under test may just have
// spent the app's budget for the call), parsed as the fly provider parses it. The server counts
// that time on its own clock: `speed` is how much faster than the wall clock it runs (`--speed`).

import { ScaledClock } from '../../src/domain/clock.js';
import { parseRetryAfter } from '../../src/providers/fly/api-errors.js';

/** More 429s in a row than this is a server that never lets the read through: fail with it. */
const MAX_RATE_LIMITED = 100;

export async function flyGet<T>(
  url: string,
  path: string,
  token: string,
  speed = 1,
): Promise<{ status: number; body: T }> {
  const serverClock = new ScaledClock(speed);
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 429 || attempt >= MAX_RATE_LIMITED) return { status: res.status, body: (await res.json()) as T };
    await res.body?.cancel();
    await serverClock.sleep(retryAfterMs(res.headers.get('retry-after')));
  }
}

/** The wait a 429 asks for, in the server's ms; a 429 without a readable Retry-After is a broken server. */
export function retryAfterMs(header: string | null): number {
  const ms = parseRetryAfter(header, Date.now());
  if (ms === undefined) throw new Error(`429 without a readable Retry-After (${JSON.stringify(header)})`);
  return ms;
}
