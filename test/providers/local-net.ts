// Network helpers of the `local` provider's tests: a GET through its proxy, whether a pid is alive,
// and two free ports in a row for a base_port range.

import { createServer, request, type Agent, type Server } from 'node:http';
import { processStartTime } from '../../src/providers/local/proc.js';

/** GET through the proxy on a fresh connection (or `agent`): status, body and the serving machine. */
export function get(
  url: string,
  path = '/',
  agent: Agent | false = false,
): Promise<{ status: number; body: string; machine: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, body, machine: res.headers['x-runway-machine'] as string | undefined }),
      );
    });
    req.once('error', reject);
    req.end();
  });
}

export const alive = (pid: number) => processStartTime(pid) !== undefined;

/**
 * Two consecutive free ports below Linux's ephemeral range (32768+): a port the OS hands out was the
 * probe's, and the very next one went to a concurrent test's listener (seen in CI: "no free port for
 * a machine in 37139-37140"). Below that range only a process asking for a port by number takes one.
 */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const held: Server[] = [];
    try {
      for (const port of [base, base + 1]) {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => resolve());
        });
        held.push(server);
      }
      return base;
    } catch {
      // Taken: another pair.
    } finally {
      await Promise.all(held.map((server) => new Promise<void>((r) => server.close(() => r()))));
    }
  }
  throw new Error('no two consecutive free ports in 20000-32000');
}
