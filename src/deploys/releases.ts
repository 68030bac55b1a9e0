// Which release a request means when it names none: the newest (deploy), the previous good one
// (rollback), or what runs now (apply-secrets).

import type { Release } from '../domain/types.js';
import type { Store } from '../store/contract.js';
import type { DeployKind } from './request.js';

/**
 * The release to go back to: the newest release that a deploy took the environment to successfully,
 * other than the one the newest successful deploy put there (what runs now).
 */
export async function previousGoodRelease(
  store: Store,
  app: string,
  env: string,
): Promise<{ current: string | null; previous: string | null }> {
  const done = await store.listDeploys({ app, env, status: ['succeeded'], limit: 200 });
  const current = done[0]?.release ?? null;
  const previous = done.find((d) => d.release !== current)?.release ?? done[0]?.previousRelease ?? null;
  return { current, previous: previous === current ? null : previous };
}

/** The release a successful deploy last put on the environment (what runs). */
export async function currentRelease(store: Store, app: string, env: string): Promise<string | null> {
  const [last] = await store.listDeploys({ app, env, status: ['succeeded'], limit: 1 });
  return last?.release ?? null;
}

/** A request names something that is not there: 404 unknown release, 409 nothing to go back to. */
export class ReleaseLookupError extends Error {
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
    this.name = 'ReleaseLookupError';
  }
}

export async function resolveRequestRelease(
  store: Store,
  app: string,
  env: string,
  kind: DeployKind,
  version: string | null | undefined,
): Promise<Release> {
  let wanted = version ?? undefined;
  if (!wanted && kind === 'rollback') {
    const { current, previous } = await previousGoodRelease(store, app, env);
    if (!previous)
      throw new ReleaseLookupError(
        `no previous good release of ${app}/${env} is known${current ? ` (only ${current})` : ''}; name one (--to RELEASE, API "to")`,
        409,
      );
    wanted = previous;
  }
  if (!wanted && kind === 'apply-secrets') {
    const current = await currentRelease(store, app, env);
    if (!current)
      throw new ReleaseLookupError(
        `nothing has been deployed to ${env} yet: the staged secrets go out with its first deploy`,
        409,
      );
    wanted = current;
  }
  const releases = await store.listReleases(app);
  if (!wanted) {
    const latest = releases[0];
    if (!latest)
      throw new ReleaseLookupError(
        `no releases of ${app} yet; create one with \`runway releases create VERSION\``,
        404,
      );
    return latest;
  }
  const release = releases.find((r) => r.version === wanted) ?? (await store.getRelease(app, wanted));
  if (!release) {
    const known =
      releases
        .slice(0, 10)
        .map((r) => r.version)
        .join(', ') || 'none';
    throw new ReleaseLookupError(
      `release ${wanted} does not exist for ${app} (known: ${known}); create it with \`runway releases create ${wanted}\``,
      404,
    );
  }
  return release;
}
