// What lease and metadata calls cost in `sim serve`. They are per-machine actions on Fly (1 req/s,
// burst 3 each: acquiring or refreshing, looking up, releasing a lease; reading, writing metadata),
// counted here since the SimProvider, which charges every other call, has no such operations.

import type { Clock } from '../../../domain/clock.js';
import { TokenBucket } from '../../rate-limit/token-bucket.js';
import { sampleLatency } from '../latency.js';
import type { SeededRandom } from '../random.js';
import type { SimProvider } from '../sim-provider.js';
import { HttpError } from './http-error.js';

export type PerMachineCall = 'leaseAcquire' | 'leaseGet' | 'leaseRelease' | 'metadataGet' | 'metadataSet';

export class PerMachineCalls {
  private readonly buckets: Record<PerMachineCall, TokenBucket> = {
    leaseAcquire: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    leaseGet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    leaseRelease: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    metadataGet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
    metadataSet: new TokenBucket({ ratePerSec: 1, burst: 3 }),
  };

  constructor(
    private readonly clock: Clock,
    private readonly sim: SimProvider,
    private readonly rng: SeededRandom,
  ) {}

  /**
   * The rate limit is decided when a call arrives (429 + Retry-After), the change is made when it is
   * answered: one API latency draw later, as the SimProvider charges its calls.
   */
  async charge(call: PerMachineCall, app: string, id: string, what: string): Promise<void> {
    const wait = this.sim.options.rateLimits ? this.buckets[call].take(`${app}/${id}`, this.clock.now()) : 0;
    if (wait > 0) throw new HttpError(429, `rate limit exceeded for ${what} on machine ${id}`, wait);
    await this.clock.sleep(sampleLatency(this.sim.options.latency.api, this.rng));
  }
}
