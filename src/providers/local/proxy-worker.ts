// The proxy's own thread: LocalProxy (proxy.ts) on an event loop of its own, so what the supervisor's
// main thread does — spawning processes (fork blocks the calling loop), health checks, state files,
// the control API — never delays a proxied request. Driven by ProxyHost (proxy-host.ts) over the
// worker's message port; messages are handled in order, so a drain asked after a routing change
// sees that change.

import { parentPort } from 'node:worker_threads';
import { LocalProxy, type Backend } from './proxy.js';
import type { FromProxy, ToProxy } from './proxy-host.js';

const port = parentPort;
if (!port) throw new Error('proxy-worker runs as a worker thread');

let proxy: LocalProxy | undefined;
const reply = (message: FromProxy) => port.postMessage(message);

port.on('message', (message: ToProxy) => {
  switch (message.type) {
    case 'listen':
      proxy = new LocalProxy({ queueTimeoutMs: message.queueTimeoutMs });
      proxy.listen(message.port).then(
        (bound) => reply({ type: 'listening', port: bound }),
        (error: NodeJS.ErrnoException) =>
          reply({ type: 'listen-failed', code: error.code ?? '', message: error.message }),
      );
      return;
    case 'routes':
      proxy?.setBackends(message.backends as Backend[]);
      reply({ type: 'routed', seq: message.seq });
      return;
    case 'drain':
      void (proxy ? proxy.drain(message.id, message.timeoutMs) : Promise.resolve(true)).then((idle) =>
        reply({ type: 'drained', req: message.req, idle }),
      );
      return;
    case 'forget':
      proxy?.forget(message.id);
      return;
    case 'stats': {
      const inFlight: Record<string, number> = {};
      for (const b of proxy?.routable ?? []) inFlight[b.id] = proxy!.inFlight(b.id);
      if (message.id !== undefined) inFlight[message.id] = proxy?.inFlight(message.id) ?? 0;
      reply({
        type: 'stats',
        req: message.req,
        stats: { ...(proxy?.stats ?? emptyStats()), inFlight, inFlightTotal: proxy?.inFlightTotal ?? 0 },
      });
      return;
    }
    case 'traffic':
      reply({ type: 'traffic', req: message.req, byMachine: Object.fromEntries(proxy?.counters ?? []) });
      return;
    case 'close':
      void (proxy?.close() ?? Promise.resolve()).then(() => reply({ type: 'closed', req: message.req }));
      return;
  }
});

function emptyStats() {
  return { requests: 0, retries: 0, held: 0, badGateway: 0, unavailable: 0 };
}
