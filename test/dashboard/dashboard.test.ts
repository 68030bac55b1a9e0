// The dashboard over plain HTTP: sign-in sets an HttpOnly SameSite=Strict cookie and no page carries
// the token; the cookie authenticates the API for reads, and for changes only with the page's CSRF
// token from the same origin; pages escape data; SSE streams replay a deploy's events from memory
// (this instance) and from the store (ended, or running elsewhere); health JSON; JSON errors.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../server/harness.js';
import { csrfToken } from '../../src/server/browser-session.js';
import { DASHBOARD_CONFIG } from './fixtures.js';
import { until } from '../support/wait.js';

let h: Harness;
let viewer: string;
let deployer: string;
let done: string;

/** Tests name a signed-in browser by its token; the cookie it carries is the session id sign-in gave it. */
const sessions = new Map<string, string>();
const session = (tokenOrCookie: string) => sessions.get(tokenOrCookie) ?? tokenOrCookie;

async function signIn(token: string): Promise<string> {
  const res = await fetch(h.url + '/dashboard/login', {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.url },
    body: new URLSearchParams({ token }).toString(),
  });
  const m = /^runway_session=(rws_[^;]+);/.exec(res.headers.get('set-cookie') ?? '');
  assert.ok(m, 'signed in');
  return m[1]!;
}

async function get(path: string, cookie?: string, headers: Record<string, string> = {}) {
  if (cookie) cookie = session(cookie);
  const res = await fetch(h.url + path, {
    headers: { ...(cookie ? { cookie: `runway_session=${cookie}` } : {}), ...headers },
    redirect: 'manual',
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function post(
  path: string,
  options: { cookie?: string; headers?: Record<string, string>; body?: string; type?: string },
) {
  if (options.cookie) options = { ...options, cookie: session(options.cookie) };
  const res = await fetch(h.url + path, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': options.type ?? 'application/json',
      ...(options.cookie ? { cookie: `runway_session=${options.cookie}` } : {}),
      ...(options.headers ?? {}),
    },
    body: options.body ?? '{}',
  });
  const text = await res.text();
  let json: { error?: string; code?: string } = {};
  try {
    json = JSON.parse(text);
  } catch {
    // html
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Read an SSE response until `end` matches the text so far (or the stream ends); `seen` is told the text as it grows. */
async function readSse(
  path: string,
  cookie: string,
  end: RegExp,
  timeoutMs = 15_000,
  seen?: (text: string) => void,
): Promise<string> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const res = await fetch(h.url + path, {
    headers: { cookie: `runway_session=${session(cookie)}` },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      seen?.(text);
      if (end.test(text)) break;
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return text;
}

function events(text: string, name: string): unknown[] {
  return [...text.matchAll(new RegExp(`event: ${name}\\ndata: (.*)\\n\\n`, 'g'))].map((m) => JSON.parse(m[1]!));
}

before(async () => {
  h = await startHarness({ config: DASHBOARD_CONFIG(40), serve: { liveFlushMs: 50 } });
  for (const v of ['v2', 'v3']) await h.call('POST', '/api/releases', { token: h.admin, body: { version: v } });
  viewer = await h.token('vera', 'viewer');
  deployer = await h.token('pat', 'deployer', { envs: ['production'] });
  for (const t of [viewer, deployer]) sessions.set(t, await signIn(t));
  const r = await h.call('POST', '/api/deploys', {
    token: deployer,
    body: { env: 'production', release: 'v2', reason: '<script>alert(1)</script>' },
  });
  assert.equal(r.status, 201, r.text);
  done = r.json.deploy.id;
  for (let i = 0; i < 600; i++) {
    const d = await h.store.getDeploy(done);
    if (d?.status === 'succeeded' && !h.server.deploys.get(done)) break;
    await new Promise((res) => setTimeout(res, 50));
  }
});
after(() => h.close());

describe('sign-in and the session cookie', () => {
  it('pages send a browser without a session to the sign-in page', async () => {
    for (const path of [
      '/dashboard',
      `/dashboard/deploys/${done}`,
      '/dashboard/health?window=30',
      '/dashboard/ledger',
    ]) {
      const r = await get(path);
      assert.equal(r.status, 303, path);
      assert.equal(r.headers.get('location'), `/dashboard/login?next=${encodeURIComponent(path)}`);
    }
    assert.equal((await get('/dashboard', 'rwt_000000000000_' + 'A'.repeat(43))).status, 303);
  });

  it('a valid token signs in: HttpOnly, SameSite=Strict cookie, redirect, and the token in no page', async () => {
    const r = await post('/dashboard/login', {
      type: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ token: viewer, next: '/dashboard/ledger' }).toString(),
      headers: { origin: h.url },
    });
    assert.equal(r.status, 303);
    assert.equal(r.headers.get('location'), '/dashboard/ledger');
    const cookie = r.headers.get('set-cookie') ?? '';
    // An opaque session id, not the token.
    assert.match(cookie, /^runway_session=rws_[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    assert.ok(!cookie.includes(viewer), 'the token is not in the cookie');
    for (const path of ['/dashboard', `/dashboard/deploys/${done}`, '/dashboard/health', '/dashboard/ledger']) {
      const page = await get(path, viewer);
      assert.equal(page.status, 200, path);
      assert.ok(!page.text.includes(viewer), `token in ${path}`);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.match(page.headers.get('server-timing') ?? '', /^app;dur=/);
    }
    assert.ok(!h.logs.some((l) => l.includes(viewer)), 'token in a log line');
    assert.ok(h.logs.some((l) => l === 'dashboard sign-in: vera (viewer)'));
  });

  it('a bad token, a cross-site form or an outside `next` does not sign in', async () => {
    const bad = await post('/dashboard/login', { type: 'application/x-www-form-urlencoded', body: 'token=rwt_nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers.get('set-cookie'), null);
    assert.match(bad.text, /That token is not valid/);
    const crossSite = await post('/dashboard/login', {
      type: 'application/x-www-form-urlencoded',
      body: `token=${viewer}`,
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(crossSite.status, 403);
    assert.equal(crossSite.headers.get('set-cookie'), null);
    const away = await post('/dashboard/login', {
      type: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ token: viewer, next: 'https://evil.example/' }).toString(),
    });
    assert.equal(away.headers.get('location'), '/dashboard');
    const fresh = await signIn(viewer);
    assert.equal((await get('/api/whoami', fresh)).status, 200);
    const out = await post('/dashboard/logout', { cookie: fresh, headers: { origin: h.url } });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /^runway_session=; .*Max-Age=0/);
    // Signing out ended the session on the server: the same cookie, kept or copied, opens nothing.
    assert.equal((await get('/dashboard', fresh)).status, 303);
    assert.equal((await get('/api/whoami', fresh)).status, 401);
    assert.equal((await get('/api/whoami', viewer)).status, 200, 'other sessions of the token go on');
  });

  it('the cookie reads the API; changes need the CSRF token and this origin; roles still apply', async () => {
    assert.equal((await get('/api/whoami', viewer)).status, 200);
    const path = `/api/environments/production/rollback`;
    const noCsrf = await post(path, { cookie: deployer });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.code, 'csrf');
    assert.match(noCsrf.json.error ?? '', /x-runway-csrf/);
    const wrongCsrf = await post(path, { cookie: deployer, headers: { 'x-runway-csrf': csrfToken(session(viewer)) } });
    assert.equal(wrongCsrf.status, 403);
    const crossOrigin = await post(path, {
      cookie: deployer,
      headers: { 'x-runway-csrf': csrfToken(session(deployer)), origin: 'https://evil.example' },
    });
    assert.equal(crossOrigin.status, 403);
    assert.match(crossOrigin.json.error ?? '', /cross-origin/);
    const viewerAct = await post(`/api/deploys/${done}/abort`, {
      cookie: viewer,
      headers: { 'x-runway-csrf': csrfToken(session(viewer)), origin: h.url },
    });
    assert.equal(viewerAct.status, 403);
    assert.equal(viewerAct.json.code, 'role');
    // Nothing was rolled back by any of those.
    assert.equal((await h.store.listDeploys({ env: 'production' })).length, 1);
    // With both, the deployer acts (the deploy already ended: 409, JSON).
    const ended = await post(`/api/deploys/${done}/abort`, {
      cookie: deployer,
      headers: { 'x-runway-csrf': csrfToken(session(deployer)), origin: h.url },
    });
    assert.equal(ended.status, 409);
    assert.match(ended.json.error ?? '', /already ended/);
  });
});

describe('pages', () => {
  it('the deploy page escapes what people typed and offers actions only to who may act', async () => {
    const asViewer = await get(`/dashboard/deploys/${done}`, viewer);
    assert.ok(asViewer.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(!asViewer.text.includes('<script>alert(1)'));
    assert.ok(!asViewer.text.includes('data-action='));
    const asDeployer = await get(`/dashboard/deploys/${done}`, deployer);
    assert.match(asDeployer.text, /data-action="rollback" data-env="production"/);
    assert.match(asDeployer.text, /<meta name="runway-csrf" content="[A-Za-z0-9_-]{43}">/);
    assert.match(asDeployer.text, /id="summary"/);
  });

  it("the deploy page's Analysis panel lists each measurement, escaped, and is hidden without any", async () => {
    const before = await get(`/dashboard/deploys/${done}`, viewer);
    assert.match(before.text, /<section class="card" id="analysis-card" hidden>/);
    const measurement = {
      analysis: 'errors<b>',
      metric: 'error_rate',
      value: 0.2,
      baseline: 0.01,
      limit: '≤ 0.05',
      verdict: 'fail',
      reason: 'error_rate of v2 is 0.2, above max 0.05 (v1: 0.01)',
      release: 'v2',
      baselineRelease: 'v1',
      atMs: 7,
    };
    await h.store.appendJournal([
      {
        deployId: done,
        atMs: Date.now(),
        kind: 'analysis_measured',
        message: 'errors: fail',
        data: measurement,
        wave: 0,
      },
    ]);
    const after = await get(`/dashboard/deploys/${done}`, viewer);
    assert.match(after.text, /<section class="card" id="analysis-card" >/);
    assert.match(after.text, /<b>errors&lt;b&gt;<\/b>/);
    assert.match(
      after.text,
      /<span class="badge bad">fail<\/span><\/td><td class="mono">0\.2 \(v2\)<\/td><td class="mono">0\.01 \(v1\)<\/td>/,
    );
    assert.ok(after.text.includes('error_rate of v2 is 0.2, above max 0.05 (v1: 0.01)'));
  });

  it('unknown deploys, windows and environments: 404/400 pages and JSON errors', async () => {
    assert.equal((await get('/dashboard/deploys/dep_nope', viewer)).status, 404);
    assert.equal((await get('/dashboard/health?window=8', viewer)).status, 400);
    assert.equal((await get('/dashboard/health?env=nope', viewer)).status, 404);
    assert.equal((await get('/dashboard/nowhere', viewer)).status, 404);
    const api = await get('/api/health?window=8', viewer);
    assert.equal(api.status, 400);
    assert.match(JSON.parse(api.text).error, /window must be one of 7, 30, 90/);
    assert.equal((await get('/api/health')).status, 401);
    assert.equal((await get('/api/deploys/dep_nope/events', viewer)).status, 404);
    assert.equal((await get('/dashboard/assets/nope.js')).status, 404);
    assert.match((await get('/dashboard/assets/uPlot.iife.min.js')).headers.get('content-type') ?? '', /javascript/);
  });

  it('GET /api/health: totals and buckets from the store', async () => {
    const r = await h.call('GET', '/api/health?window=7&env=production', { token: viewer });
    assert.equal(r.status, 200);
    assert.equal(r.json.totals.deploys, 1);
    assert.equal(r.json.totals.successRate, 1);
    assert.equal(r.json.byStrategy.rolling.deploys, 1);
    assert.equal(r.json.buckets.length, 28);
    assert.ok(r.json.totals.dispatch.p50 > 0);
  });
});

describe('live streams (SSE)', () => {
  it('an ended deploy: replayed from the store (steps with inferred starts, machine events, status), then end', async () => {
    const text = await readSse(`/api/deploys/${done}/events`, viewer, /event: end/);
    const [hello] = events(text, 'hello') as { source: string }[];
    assert.equal(hello!.source, 'store');
    const batch = (events(text, 'batch') as { t: string; s?: string; k?: string }[][]).flat();
    assert.equal(batch.filter((e) => e.t === 'step' && e.s === 'succeeded').length, 48);
    assert.equal(batch.filter((e) => e.t === 'step' && e.s === 'started').length, 48);
    assert.ok(batch.filter((e) => e.t === 'm').length >= 48);
    assert.deepEqual(
      batch.filter((e) => e.t === 'status').map((e) => e.s),
      ['succeeded'],
    );
    assert.deepEqual(events(text, 'end'), [{ status: 'succeeded' }]);
  });

  it('a running deploy: a late viewer gets the replay from memory, then live batches and clock ticks, then end', async () => {
    const r = await h.call('POST', '/api/deploys', { token: deployer, body: { env: 'production', release: 'v3' } });
    assert.equal(r.status, 201, r.text);
    const id = r.json.deploy.id as string;
    // Late: once the deploy has sent progress.
    await until(() => (h.server.deploys.get(id)?.events.length ?? 0) > 0, 'the deploy under way');
    const text = await readSse(`/api/deploys/${id}/events`, viewer, /event: end/, 30_000);
    const [hello] = events(text, 'hello') as { source: string; startedAt: number }[];
    assert.equal(hello!.source, 'live');
    const all = (events(text, 'batch') as { t: string; s?: string; at?: number }[][]).flat();
    assert.equal(all[0]!.t, 'plan', 'the replay starts at the beginning');
    // Every step that started also ended, once: nothing lost or repeated between replay and live.
    const started = all.filter((e) => e.t === 'step' && e.s === 'started').length;
    const ended = all.filter((e) => e.t === 'step' && e.s !== 'started').length;
    assert.equal(started, 48);
    assert.equal(ended, 48);
    assert.ok(events(text, 'now').length > 0);
    assert.deepEqual(
      all.filter((e) => e.t === 'status').map((e) => e.s),
      ['succeeded'],
    );
    const times = all.filter((e) => e.t !== 'm').map((e) => e.at!);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'stamped in order on the deploy clock',
    );
  });

  it('a deploy another instance runs: followed from the store (journal and machine events) until it ends', async () => {
    const id = 'dep_elsewhere01';
    const now = Date.now();
    await h.store.createDeploy({
      id,
      app: 'shop',
      env: 'qa',
      release: 'v2',
      previousRelease: 'v1',
      strategy: 'bluegreen',
      initiator: 'token:pat',
      responsible: 'pat',
      trigger: 'manual',
      reason: null,
      plan: null,
      createdAtMs: now,
      status: 'running',
      owner: 'other-instance',
    });
    // A fresh heartbeat: this instance must not take it over during the test.
    await h.store.updateDeploy(id, { startedAtMs: now, heartbeatAtMs: now + 60_000 });
    await h.store.appendJournal([
      {
        deployId: id,
        atMs: now + 10,
        kind: 'wave_started',
        wave: 0,
        message: 'create 2 green machines',
        data: { kind: 'create', steps: 2 },
      },
      { deployId: id, atMs: now + 900, kind: 'step_succeeded', machineId: 'm-1', message: 'create', wave: 0 },
    ]);
    await h.store.appendMachineEvents([
      {
        deployId: id,
        app: 'shop',
        env: 'qa',
        machineId: 'm-1',
        atMs: now + 200,
        type: 'created',
        state: 'starting',
        release: 'v2',
        health: 'unknown',
      },
    ]);
    let sofar = '';
    const reading = readSse(`/api/deploys/${id}/events`, viewer, /event: end/, 20_000, (text) => (sofar = text));
    // What comes next comes after the viewer has what was there.
    await until(() => /event: batch/.test(sofar), 'the viewer got the replay from the store');
    await h.store.appendMachineEvents([
      {
        deployId: id,
        app: 'shop',
        env: 'qa',
        machineId: 'm-2',
        atMs: now + 1_000,
        type: 'created',
        state: 'starting',
        release: 'v2',
        health: 'unknown',
      },
    ]);
    await h.store.appendJournal([
      {
        deployId: id,
        atMs: now + 1_500,
        kind: 'step_failed',
        machineId: 'm-2',
        message: 'm-2 exited with code 1',
        wave: 0,
      },
      { deployId: id, atMs: now + 1_600, kind: 'status', message: 'failed', data: { error: 'm-2 exited' } },
    ]);
    await h.store.updateDeploy(id, { status: 'failed', finishedAtMs: now + 1_600 });
    const text = await reading;
    const [hello] = events(text, 'hello') as { source: string; owner: string }[];
    assert.deepEqual({ source: hello!.source, owner: hello!.owner }, { source: 'store', owner: 'other-instance' });
    const batches = events(text, 'batch') as { t: string; s?: string; m?: string; at: number; e?: string }[][];
    assert.ok(batches.length >= 2, 'what was there, then what came later');
    const steps = batches.flat().filter((e) => e.t === 'step');
    // Starts are inferred: the machine's first event after the wave started.
    assert.deepEqual(
      steps.map((e) => [e.m, e.s, e.at - now]),
      [
        ['m-1', 'started', 200],
        ['m-1', 'succeeded', 900],
        ['m-2', 'started', 1_000],
        ['m-2', 'failed', 1_500],
      ],
    );
    assert.equal(steps[3]!.e, 'm-2 exited with code 1');
    assert.deepEqual(events(text, 'end'), [{ status: 'failed' }]);
  });

  it('the overview stream sends the environment cards', async () => {
    const text = await readSse('/api/overview/events', viewer, /event: overview/);
    const [overview] = events(text, 'overview') as { cards: Record<string, string>; recent: string }[];
    assert.deepEqual(Object.keys(overview!.cards), ['production', 'staging', 'qa']);
    assert.match(overview!.cards.production!, /id="env-production"/);
    assert.match(overview!.cards.production!, /data-release="v3"/);
    assert.ok(!overview!.cards.production!.includes('data-action'), 'a viewer gets no buttons');
  });
});
