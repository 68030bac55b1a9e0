import { ProviderSetupError, type ProviderSession, type SessionInput } from '../session.js';

export async function openFlySession(input: SessionInput): Promise<ProviderSession> {
  throw new ProviderSetupError(`environment ${input.env.name}: provider "fly" is not available yet in this build (use "sim")`);
}
