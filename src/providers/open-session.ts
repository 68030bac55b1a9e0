// One switch from an environment's `provider` to the code that opens it.

import { openFlySession } from './fly/session.js';
import { openLocalSession } from './local/session.js';
import type { ProviderSession, SessionInput } from './session.js';
import { openSimSession } from './sim/session.js';

export function openProviderSession(input: SessionInput): Promise<ProviderSession> {
  switch (input.env.provider) {
    case 'sim':
      return openSimSession(input);
    case 'local':
      return openLocalSession(input);
    case 'fly':
      return openFlySession(input);
  }
}
