// A real Prometheus server (Debian's `prometheus` package, installed by scripts/test-services.sh)
// scraping the given targets every second, on a free loopback port, for analysis' query source.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './wait.js';

const BINARY = process.env.RUNWAY_TEST_PROMETHEUS ?? '/usr/bin/prometheus';
const HOW =
  'install it with `bash scripts/test-services.sh` (runs before `npm test`; Debian: apt-get install -y prometheus), or set RUNWAY_TEST_PROMETHEUS to its binary';

export interface PrometheusServer {
  url: string;
  /** Its output so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

/** Fails (never skips) without the binary, saying how to get it. */
export async function startPrometheus(targets: string[]): Promise<PrometheusServer> {
  if (!existsSync(BINARY)) throw new Error(`these tests need Prometheus at ${BINARY}, which is missing: ${HOW}`);
  const dir = mkdtempSync(join(tmpdir(), 'runway-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: demo',
      '    static_configs:',
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    BINARY,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}): ${out}`);
        return (
          (await fetch(`${url}/-/ready`)
            .then((r) => r.ok)
            .catch(() => false)) === true
        );
      },
      'prometheus to be ready',
      120_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, log: () => out, stop };
}
