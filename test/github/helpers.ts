// A sim project wired to a test GitHub and a notification receiver, driven through the real CLI
// in-process (the deploy, its store, the outbox pump and its flush are runway's own).

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/contract.js';
import type { RunwayConfig } from '../../src/config/types.js';

export const PUBLIC_URL = 'https://runway.example.com';

export function projectConfig(integrations: string): string {
  return `
[app]
name = "mechanic"
[app.processes]
web = { count = 4, command = "bin/web" }

[environments.production]
provider = "sim"
trigger = "release"
initiation = "manual"
allow_cli = true
url = "https://mechanic.example.com"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.staging]
provider = "sim"
trigger = "push:main"
vars = { DEPLOY_STRATEGY = "immediate" }
[environments.staging.deploy]
convergence_timeout = "30s"
on_failure = "halt"

[sim]
clock = "virtual"
initial_release = "v1"
[sim.faults]
unhealthy_releases = ["v-broken"]

[server]
public_url = "${PUBLIC_URL}"
${integrations}`;
}

export interface GhProject {
  dir: string;
  run(
    args: string[],
    env?: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The project's config and store, opened apart from any command. */
  open(): Promise<{ config: RunwayConfig; store: Store }>;
  cleanup(): void;
}

export function ghProject(integrations: string, baseEnv: Record<string, string> = {}): GhProject {
  const dir = mkdtempSync(join(tmpdir(), 'runway-gh-'));
  writeFileSync(join(dir, 'runway.toml'), projectConfig(integrations));
  return {
    dir,
    async run(args, env = {}, signal) {
      let stdout = '';
      let stderr = '';
      const io: Io = {
        stdout: { write: (t) => void (stdout += t), isTTY: false },
        stderr: { write: (t) => void (stderr += t), isTTY: false },
        env: { RUNWAY_USER: 'grace', NO_COLOR: '1', ...baseEnv, ...env },
        cwd: dir,
      };
      const code = await runCli(args, io, signal);
      return { code, stdout, stderr };
    },
    async open() {
      const config = loadConfig(join(dir, 'runway.toml'));
      return { config, store: await openStore(config.store.url, config.dir) };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** An HTTP receiver for notifications (Slack incoming webhook and generic webhook alike). */
export class Receiver {
  readonly received: Received[] = [];
  /** Answer this status to the next requests (e.g. 500 to make runway retry). */
  status = 200;
  private server: Server | undefined;
  url = '';

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        if (this.status === 200)
          this.received.push({
            path: req.url ?? '/',
            headers: req.headers,
            raw,
            body: JSON.parse(raw) as Record<string, unknown>,
          });
        res.writeHead(this.status, { 'content-type': 'text/plain' });
        res.end(this.status === 200 ? 'ok' : 'try later');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A loopback port nothing listens on (GitHub unreachable). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
