// GET /metrics: Prometheus text from prom-client, behind a token; deploys by result, dispatch and
// converge histograms, provider requests by op and outcome, machines by release and state, deploys
// in progress, and Node's process metrics.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { startHarness, type Harness } from './harness.js';
import { countingProvider } from '../../src/server/metrics.js';
import { ProviderError, type Provider } from '../../src/providers/contract.js';
import { until } from '../support/wait.js';

let h: Harness;
before(async () => {
  h = await startHarness({ serve: { fleetTtlMs: 0 } });
  for (const v of ['v2', 'v3'])
    assert.equal((await h.call('POST', '/api/releases', { token: h.admin, body: { version: v } })).status, 201);
});
after(() => h.close());

async function scrape(token: string | null = h.admin): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(`${h.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('/metrics', () => {
  it('needs a token (any role), JSON 401 otherwise', async () => {
    const none = await scrape(null);
    assert.equal(none.status, 401);
    assert.match(JSON.parse(none.text).error, /authentication required/);
    assert.equal((await scrape('rwt_000000000000_' + 'A'.repeat(43))).status, 401);
    const viewer = await h.token('prometheus', 'viewer');
    const ok = await scrape(viewer);
    assert.equal(ok.status, 200);
    assert.match(ok.type ?? '', /^text\/plain; version=0\.0\.4/);
  });

  it('counts deploys by result, observes dispatch and converge, and counts provider requests', async () => {
    const good = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'production', release: 'v2' } });
    await h.waitDeploy(good.json.deploy.id);
    const aborted = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'qa', release: 'v2' } });
    // qa pauses before cutover: abort it there.
    await until(
      async () => (await h.store.listJournal(aborted.json.deploy.id)).some((e) => e.kind === 'paused'),
      'the deploy paused',
      120_000,
    );
    assert.equal(
      (await h.call('POST', `/api/deploys/${aborted.json.deploy.id}/abort`, { token: h.admin, body: {} })).status,
      200,
    );
    await h.waitDeploy(aborted.json.deploy.id);
    const { text } = await scrape();
    assert.equal(
      value(text, 'runway_deploys_total{app="shop",env="production",strategy="rolling",result="succeeded"}'),
      1,
    );
    assert.equal(value(text, 'runway_deploys_total{app="shop",env="qa",strategy="bluegreen",result="aborted"}'), 1);
    assert.equal(
      value(
        text,
        'runway_deploy_duration_seconds_count{app="shop",env="production",strategy="rolling",phase="dispatch"}',
      ),
      1,
    );
    assert.equal(
      value(
        text,
        'runway_deploy_duration_seconds_count{app="shop",env="production",strategy="rolling",phase="converge"}',
      ),
      1,
    );
    assert.equal(
      value(text, 'runway_deploy_duration_seconds_count{app="shop",env="qa",strategy="bluegreen",phase="converge"}'),
      undefined,
      'an aborted deploy never converged',
    );
    const converge = value(
      text,
      'runway_deploy_duration_seconds_sum{app="shop",env="production",strategy="rolling",phase="converge"}',
    )!;
    const deploy = (await h.store.getDeploy(good.json.deploy.id))!;
    assert.equal(converge, (deploy.convergedAtMs! - deploy.startedAtMs!) / 1000);
    // rolling over 4 machines: 4 cordons, updates and uncordons; qa created green machines.
    assert.equal(value(text, 'runway_provider_requests_total{provider="sim",op="update",code="ok"}'), 4);
    assert.equal(value(text, 'runway_provider_requests_total{provider="sim",op="cordon",code="ok"}'), 4);
    assert.ok(value(text, 'runway_provider_requests_total{provider="sim",op="create",code="ok"}')! >= 4);
    assert.equal(value(text, 'runway_deploys_in_progress'), undefined, 'none running now');
    // Node's process metrics, under runway_.
    assert.ok(value(text, 'runway_process_resident_memory_bytes')! > 0);
    assert.match(text, /^runway_nodejs_eventloop_lag_seconds /m);
  });

  it('machines by environment, release and state; deploys in progress while one runs', async () => {
    const r = await h.call('POST', '/api/deploys', { token: h.admin, body: { env: 'qa', release: 'v3' } });
    await until(
      async () => (await h.store.listJournal(r.json.deploy.id)).some((e) => e.kind === 'paused'),
      'the deploy paused',
      120_000,
    );
    const during = await scrape();
    assert.equal(value(during.text, 'runway_deploys_in_progress{app="shop",env="qa"}'), 1);
    assert.equal(
      (await h.call('POST', `/api/deploys/${r.json.deploy.id}/promote`, { token: h.admin, body: {} })).status,
      200,
    );
    await h.waitDeploy(r.json.deploy.id);
    const { text } = await scrape();
    assert.equal(value(text, 'runway_fleet_machines{app="shop",env="production",release="v2",state="started"}'), 4);
    assert.equal(value(text, 'runway_fleet_machines{app="shop",env="qa",release="v3",state="started"}'), 4);
    assert.equal(value(text, 'runway_fleet_machines{app="shop",env="staging",release="v1",state="started"}'), 4);
    assert.equal(
      value(text, 'runway_fleet_machines{app="shop",env="qa",release="v1",state="started"}'),
      undefined,
      'blue machines are gone',
    );
  });
});

describe('countingProvider', () => {
  it('counts each call by op and outcome (ok, HTTP status, or error kind) and passes everything else through', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 't_requests',
      help: 'h',
      labelNames: ['provider', 'op', 'code'],
      registers: [registry],
    });
    let n = 0;
    const inner = {
      name: 'fake',
      list: async () => [],
      get: async () => {
        n++;
        throw new ProviderError(n === 1 ? 'rate_limited' : 'not_found', 'x', n === 1 ? { status: 429 } : {});
      },
      subscribe: () => () => {},
    } as unknown as Provider;
    const p = countingProvider(inner, counter);
    assert.equal(p.name, 'fake');
    assert.equal(typeof p.subscribe, 'function');
    assert.equal(p.drain, undefined);
    await p.list({ app: 'a', env: 'e' });
    await assert.rejects(p.get({ app: 'a', env: 'e' }, 'm'), /x/);
    await assert.rejects(p.get({ app: 'a', env: 'e' }, 'm'), /x/);
    const text = await registry.metrics();
    assert.match(text, /t_requests\{provider="fake",op="list",code="ok"\} 1/);
    assert.match(text, /t_requests\{provider="fake",op="get",code="429"\} 1/);
    assert.match(text, /t_requests\{provider="fake",op="get",code="not_found"\} 1/);
  });
});
