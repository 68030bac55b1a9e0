// Ports on 127.0.0.1: whether one is free, and picking one for a machine.

import { createServer } from 'node:net';

export const HOST = '127.0.0.1';

/** Bind and release: the port is free now (for 127.0.0.1; a wildcard listener makes it busy too). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port the OS considers free right now. */
export function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: HOST, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port for a machine that none of `taken` holds: from the OS (basePort 0) or the lowest free
 * one in [basePort, basePort + count). Undefined when the range is exhausted.
 */
export async function pickPort(
  basePort: number,
  count: number,
  taken: ReadonlySet<number>,
): Promise<number | undefined> {
  if (basePort === 0) {
    for (let i = 0; i < 20; i++) {
      const port = await ephemeralPort();
      if (!taken.has(port)) return port;
    }
    return undefined;
  }
  for (let port = basePort; port < basePort + count && port <= 65535; port++) {
    if (!taken.has(port) && (await isPortFree(port))) return port;
  }
  return undefined;
}
