// Open event streams (SSE) end when the credential they were opened with stops being valid: a token
// revoked (through this server at once; through another instance or the CLI within one sweep, at
// most `sweepMs`), a dashboard session ended (sign-out) or expired. The stream's last message is
// `event: revoked`, then it closes; the browser's EventSource then gets 401 when it reconnects.

import type { Clock } from '../domain/clock.js';
import type { Store } from '../store/contract.js';

export interface StreamCredential {
  tokenId: string;
  /** The dashboard session the request came with (sha256 of its id), if any. */
  sessionHash?: string | undefined;
}

interface Guarded {
  credential: StreamCredential;
  end(why: string): void;
}

const encoder = new TextEncoder();

export class StreamGuard {
  private readonly open = new Set<Guarded>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sweepMs = 500,
  ) {}

  /** A stream that ends (after an `event: revoked` message) when its credential does. */
  guard(credential: StreamCredential, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = body.getReader();
    let entry: Guarded | undefined;
    const forget = () => {
      if (entry) this.open.delete(entry);
      if (this.open.size === 0) this.stopSweeping();
    };
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        let ended = false;
        entry = {
          credential,
          end: (why) => {
            if (ended) return;
            ended = true;
            forget();
            try {
              controller.enqueue(encoder.encode(`event: revoked\ndata: ${JSON.stringify({ why })}\n\n`));
              controller.close();
            } catch {
              // the client went away already
            }
            reader.cancel(why).catch(() => {});
          },
        };
        this.open.add(entry);
        this.startSweeping();
      },
      pull: async (controller) => {
        const { done, value } = await reader.read();
        if (done) {
          forget();
          try {
            controller.close();
          } catch {
            // ended by a revocation meanwhile
          }
        } else {
          try {
            controller.enqueue(value);
          } catch {
            // ended by a revocation meanwhile
          }
        }
      },
      cancel: (reason) => {
        forget();
        return reader.cancel(reason);
      },
    });
  }

  /** End every stream opened with this token (it was revoked here). */
  endToken(tokenId: string, why = 'the token was revoked'): void {
    for (const g of [...this.open]) if (g.credential.tokenId === tokenId) g.end(why);
  }

  /** End every stream of this dashboard session (signed out). */
  endSession(sessionHash: string, why = 'signed out'): void {
    for (const g of [...this.open]) if (g.credential.sessionHash === sessionHash) g.end(why);
  }

  /** How many streams are open (tests, /healthz). */
  get size(): number {
    return this.open.size;
  }

  close(): void {
    for (const g of [...this.open]) g.end('the server is stopping');
    this.stopSweeping();
  }

  private startSweeping(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.sweepMs);
    this.timer.unref();
  }

  private stopSweeping(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Revocations and sign-outs made elsewhere (another instance, `runway token revoke`): one read per credential in use. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const tokens = new Set([...this.open].map((g) => g.credential.tokenId));
      for (const id of tokens) {
        const token = await this.store.getToken(id);
        if (!token || token.revokedAtMs !== null) this.endToken(id);
      }
      const sessions = new Set(
        [...this.open].flatMap((g) => (g.credential.sessionHash ? [g.credential.sessionHash] : [])),
      );
      for (const hash of sessions) {
        const session = await this.store.getSession(hash);
        if (!session || session.endedAtMs !== null) this.endSession(hash);
        else if (session.expiresAtMs <= this.clock.now()) this.endSession(hash, 'the session expired');
      }
    } catch {
      // The store is unreachable: try again next sweep (requests are refused meanwhile anyway).
    } finally {
      this.sweeping = false;
    }
  }
}
