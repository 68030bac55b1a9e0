import { ProviderSetupError, type ProviderSession, type SessionInput } from '../session.js';

export async function openLocalSession(input: SessionInput): Promise<ProviderSession> {
  throw new ProviderSetupError(`environment ${input.env.name}: provider "local" is not available yet in this build (use "sim")`);
}
