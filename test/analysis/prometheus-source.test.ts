// Analysis' query source against a real Prometheus scraping two demo-app processes: v1 answering
// every request, v2 answering 500 to a quarter of them (DEMO_ERROR_RATE), as `runway demo`'s v4 does.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PrometheusSource } from '../../src/analysis/prometheus-source.js';
import { AnalysisSourceError, type AnalysisEntry } from '../../src/domain/analysis.js';
import { judge } from '../../src/domain/analysis-judge.js';
import { ROOT } from '../support/processes.js';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.js';
import { until } from '../support/wait.js';

const SCOPE = { app: 'demo', env: 'dev' };
// `or vector(0)`: a release that never answered a 5xx has no such series; its rate is 0, not missing.
const ERROR_RATE =
  '(sum(rate(demo_http_requests_total{release="{{release}}",code=~"5.."}[{{window}}])) or vector(0)) / sum(rate(demo_http_requests_total{release="{{release}}"}[{{window}}]))';

function entry(query: string, extra: Partial<AnalysisEntry> = {}): AnalysisEntry {
  return {
    name: 'errors',
    metric: { kind: 'query', query },
    source: 'prometheus',
    windowMs: 30_000,
    intervalMs: 1_000,
    count: 3,
    failureLimit: 1,
    minRequests: 0,
    max: 0.05,
    ...extra,
  };
}

interface App {
  child: ChildProcess;
  port: number;
}

async function startApp(release: string, machine: string, env: Record<string, string> = {}): Promise<App> {
  const child = spawn(process.execPath, [join(ROOT, 'examples/demo-app/server.js')], {
    env: { ...process.env, PORT: '0', RUNWAY_RELEASE: release, RUNWAY_MACHINE_ID: machine, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(out), `demo app ${machine} to listen`, 60_000);
  return { child, port: Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)![1]) };
}

describe('prometheus source (a real Prometheus scraping the demo app)', () => {
  let prometheus: PrometheusServer;
  const apps: App[] = [];
  let traffic = true;
  let sent: Promise<void>;

  before(async () => {
    apps.push(await startApp('v1', 'web-v1'), await startApp('v2', 'web-v2', { DEMO_ERROR_RATE: '0.25' }));
    prometheus = await startPrometheus(apps.map((a) => `127.0.0.1:${a.port}`));
    // Requests to both, paced by their answers (no timer): enough for rates over the scrapes.
    sent = Promise.all(
      apps.map(async (a) => {
        while (traffic)
          await fetch(`http://127.0.0.1:${a.port}/`)
            .then((r) => r.arrayBuffer())
            .catch(() => undefined);
      }),
    ).then(() => undefined);
    // Rates need two scrapes of each target with traffic between them.
    await until(
      async () => {
        const r = await fetch(
          `${prometheus.url}/api/v1/query?query=${encodeURIComponent('count(rate(demo_http_requests_total[30s]) > 0)')}`,
        ).then((x) => x.json() as Promise<{ data: { result: { value: [number, string] }[] } }>);
        return Number(r.data.result[0]?.value[1] ?? 0) >= 3;
      },
      'prometheus to have rates of both releases',
      120_000,
    );
  });

  after(async () => {
    traffic = false;
    await sent;
    for (const a of apps) a.child.kill('SIGTERM');
    await prometheus?.stop();
  });

  it("measures the new release's error rate and the old one's with one query template", async () => {
    const source = new PrometheusSource({ url: prometheus.url }, SCOPE);
    const e = entry(ERROR_RATE);
    const reading = await source.measure(
      e,
      { release: 'v2', machineIds: ['web-v2'] },
      { release: 'v1', machineIds: ['web-v1'] },
    );
    await source.close();
    assert.ok(
      reading.value !== null && Math.abs(reading.value - 0.25) < 0.05,
      `v2's error rate is about 0.25: ${reading.value}`,
    );
    assert.equal(reading.baseline, 0);
    assert.equal(reading.query, ERROR_RATE.replaceAll('{{release}}', 'v2').replaceAll('{{window}}', '30s'));
    const m = judge(e, reading, 'v2', 'v1');
    assert.equal(m.verdict, 'fail');
    assert.match(m.reason, /^query of v2 is 0\.2\d*, above max 0\.05 \(v1: 0\)$/);
  });

  it('selects machines by {{instances}}, a regex of the side’s machine ids', async () => {
    const source = new PrometheusSource({ url: prometheus.url }, SCOPE);
    const query = 'sum(rate(demo_http_requests_total{machine=~"{{instances}}",code="500"}[{{window}}]))';
    const reading = await source.measure(
      entry(query),
      { release: 'v2', machineIds: ['web-v2'] },
      { release: 'v1', machineIds: ['web-v1'] },
    );
    await source.close();
    assert.ok(reading.value !== null && reading.value > 0, `v2's machine answers 500s: ${reading.value}`);
    assert.equal(reading.baseline, null, "v1's machine has no 500 series at all: no data, not zero");
  });

  it('a query Prometheus rejects fails with its error, never passes', async () => {
    const source = new PrometheusSource({ url: prometheus.url }, SCOPE);
    await assert.rejects(
      source.measure(
        entry('sum(rate(demo_http_requests_total[{{window}}])'),
        { release: 'v2', machineIds: ['web-v2'] },
        null,
      ),
      (error: unknown) =>
        error instanceof AnalysisSourceError &&
        /prometheus rejected the query \(400 bad_data\): .*parse error/.test(error.message),
    );
    await assert.rejects(
      source.measure(entry('demo_http_requests_total'), { release: 'v2', machineIds: ['web-v2'] }, null),
      (error: unknown) =>
        error instanceof AnalysisSourceError && /returned \d+ series; analysis needs one number/.test(error.message),
    );
    await source.close();
  });

  it('a Prometheus that does not answer fails the measurement, naming it', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as { port: number }).port;
        probe.close(() => resolve(port));
      });
    });
    const source = new PrometheusSource({ url: `http://127.0.0.1:${closed}` }, SCOPE);
    await assert.rejects(
      source.measure(entry('up'), { release: 'v2', machineIds: ['web-v2'] }, null),
      (error: unknown) =>
        error instanceof AnalysisSourceError &&
        error.message === `prometheus at http://127.0.0.1:${closed}: ECONNREFUSED`,
    );
    await source.close();
  });

  it('sends the bearer token named by token_env', async () => {
    // Prometheus ignores the header; what is sent is checked on a listener of our own.
    const { createServer } = await import('node:http');
    let authorization: string | undefined;
    const server = createServer((req, res) => {
      authorization = req.headers.authorization;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'scalar', result: [0, '0.5'] } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const source = new PrometheusSource(
      { url: `http://127.0.0.1:${port}/prometheus/acme/`, tokenEnv: 'FLY_TOKEN_FOR_TEST' },
      SCOPE,
      { FLY_TOKEN_FOR_TEST: 'fo1_secret' },
    );
    const reading = await source.measure(entry('vector(0.5)'), { release: 'v2', machineIds: ['m1'] }, null);
    await source.close();
    assert.equal(authorization, 'Bearer fo1_secret');
    assert.equal(reading.value, 0.5);
    const unset = new PrometheusSource({ url: `http://127.0.0.1:${port}`, tokenEnv: 'UNSET_FOR_TEST' }, SCOPE, {});
    await assert.rejects(
      unset.measure(entry('vector(1)'), { release: 'v2', machineIds: ['m1'] }, null),
      /token_env names UNSET_FOR_TEST, which is not set/,
    );
    await unset.close();
    server.close();
  });
});
