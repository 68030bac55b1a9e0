// A local environment opened for one command: a client of the environment's supervisor (started on
// demand; see launcher.ts). Closing the session closes the client only: machines and the proxy stay
// up with the supervisor until `runway local down`.
//
// The environment's secrets (`runway secrets set`, encrypted in the store) are decrypted here, with
// the secret key this command has, and handed to the supervisor, which keeps them in memory only and
// gives them to the machine processes it starts from then on.

import { RealClock } from '../../domain/clock.js';
import { loadSecretKey } from '../../secrets/key.js';
import { secretsForEnvironment } from '../../secrets/secrets.js';
import { ProviderSetupError, type ProviderSession, type SessionInput } from '../session.js';
import { connectSupervisor } from './launcher.js';

export async function openLocalSession(input: SessionInput): Promise<ProviderSession> {
  const secrets = await environmentSecrets(input);
  const connection = await connectSupervisor({
    config: input.config,
    env: input.env,
    processEnv: input.processEnv,
    secrets,
  });
  const client = connection!.client;
  return {
    provider: client,
    clock: input.clock ?? new RealClock(),
    apiStats: () => ({ calls: client.calls, rateLimited: 0 }),
    save: async () => {},
    close: () => client.close(),
  };
}

/** The environment's secrets, decrypted; none when it has none. */
async function environmentSecrets({ config, env, store, processEnv }: SessionInput): Promise<Record<string, string>> {
  const stored = await store.listSecrets(config.app.name, env.name);
  if (stored.length === 0) return {};
  try {
    const key = loadSecretKey({ env: processEnv, keyFile: config.secrets?.keyFile });
    return await secretsForEnvironment(store, config.app.name, env.name, key);
  } catch (error) {
    throw new ProviderSetupError(
      `environment ${env.name} has ${stored.length} secrets its machines need, but they cannot be read: ${(error as Error).message}`,
    );
  }
}
