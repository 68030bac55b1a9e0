// The dashboard in a real browser (Debian Chromium via playwright-core) against a control plane with
// sim fleets on a scaled clock: pages render real data from deploys; the timeline advances while a
// deploy runs; abort from the page stops it; a viewer sees no action buttons and the API refuses its
// actions; the ledger page shows a broken chain. Screenshots of each page go to test-artifacts/ (and
// one of each to docs/screenshots/ for the README).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startHarness, type Harness } from '../server/harness.js';
import { KyselyStore } from '../../src/store/kysely-store.js';
import { TERMINAL_STATUSES } from '../../src/domain/types.js';
import type { DeployRecord } from '../../src/store/contract.js';
import { launchChromium, shot, signIn } from './browser-helpers.js';
import { seedHistory } from './seed.js';
import { DASHBOARD_CONFIG } from './fixtures.js';
import { UpdateHold } from './update-hold.js';

let h: Harness;
let browser: Browser;
let deployer: string;
let viewer: string;
let finished: { production: string; staging: string };
// The running deploy (v3 on production) goes only as far as the test lets it: a busy machine must not
// let it finish before the page has watched it and aborted it (found by test:soak).
const hold = new UpdateHold('v3', 6);

async function deploy(token: string, body: Record<string, unknown>): Promise<string> {
  const r = await h.call('POST', '/api/deploys', { token, body });
  assert.equal(r.status, 201, r.text);
  return r.json.deploy.id as string;
}

/** A cap for a hang: scaled-clock deploys of 48 machines on a loaded machine take long. */
async function waitDeploy(id: string, timeoutMs = 180_000): Promise<DeployRecord> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const d = await h.store.getDeploy(id);
    if (d && TERMINAL_STATUSES.includes(d.status) && !h.server.deploys.get(id)) return d;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`deploy ${id} did not finish within ${timeoutMs} ms`);
}

/**
 * Page expressions as functions: the dashboard's CSP (script-src 'self') forbids evaluating strings
 * in the page, and the tests keep that CSP on.
 */
function fn(expression: string): () => unknown {
  return new Function(`return (${expression});`) as () => unknown;
}

/** The cap is for a hang: a page on a loaded machine may take long to catch up with a deploy. */
async function waitFor(page: Page, predicate: string, timeout = 120_000): Promise<void> {
  await page.waitForFunction(fn(predicate), undefined, { timeout });
}

async function evaluate<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(fn(expression))) as T;
}

before(async () => {
  browser = await launchChromium();
  h = await startHarness({
    config: DASHBOARD_CONFIG(10),
    serve: { fleetTtlMs: 500, liveFlushMs: 100 },
    wrapSession: (env, session) => (env === 'production' ? hold.wrap(session) : session),
  });
  for (const v of ['v2', 'v3', 'v4'])
    assert.equal(
      (await h.call('POST', '/api/releases', { token: h.admin, body: { version: v, notes: `release ${v}` } })).status,
      201,
    );
  deployer = await h.token('pat', 'deployer', { envs: ['production', 'qa'] });
  viewer = await h.token('vera', 'viewer');
  // History: a production deploy by a named human, and a break-glass deploy on staging.
  const [production, staging] = await Promise.all([
    deploy(deployer, { env: 'production', release: 'v2', reason: 'weekly release' }),
    deploy(h.admin, { env: 'staging', release: 'v2', emergency: true, reason: 'main is broken, hotfix <b>now</b>' }),
  ]);
  await Promise.all([waitDeploy(production), waitDeploy(staging)]);
  finished = { production, staging };
});

after(async () => {
  hold.releaseAll();
  await browser?.close();
  await h?.close();
});

describe('dashboard in Chromium', () => {
  it('overview: current release, version spread, convergence and recent deploys from real sim deploys', async () => {
    const { context, page } = await signIn(browser, h.url, deployer);
    try {
      const card = page.locator('#env-production');
      await card.waitFor();
      assert.equal((await card.locator('.current .release').textContent())?.trim(), 'v2');
      // The fleet (48 machines, all serving v2 after the deploy): one segment, all of the bar.
      await waitFor(
        page,
        `parseFloat(document.querySelector('#env-production .spread .seg[data-release="v2"]')?.style.width) === 100`,
      );
      assert.equal(await card.locator('[data-convergence]').getAttribute('data-convergence'), '100.0');
      assert.equal((await page.locator('#env-qa .current .release').textContent())?.trim(), '—');
      assert.match((await page.locator('#env-qa .spread').getAttribute('aria-label')) ?? '', /48 on v1/);
      // Recent deploys link to both, the emergency flagged and its reason escaped, never markup.
      const recent = page.locator('#recent');
      assert.equal(await recent.locator(`a[href="/dashboard/deploys/${finished.production}"]`).count(), 1);
      assert.equal(await recent.locator('.pill.bad', { hasText: 'EMERGENCY' }).count(), 1);
      assert.equal(await page.locator('b', { hasText: 'now' }).count(), 0);
      // pat deploys production and qa: a rollback button for those, none for staging.
      assert.equal(await page.locator('#env-production button[data-action="rollback"]').count(), 1);
      assert.equal(await page.locator('#env-staging button[data-action]').count(), 0);
      assert.equal(await page.locator('#env-qa button[data-action]').count(), 0, 'nothing to roll back to on qa yet');
      // Live: the overview stream is connected.
      await waitFor(page, `document.getElementById('live').classList.contains('on')`);
      const html = await page.content();
      assert.ok(!html.includes(deployer) && !html.includes(h.admin), 'no token in the page');
      await shot(page, 'overview');
    } finally {
      await context.close();
    }
  });

  it('deploy page of a finished deploy: who and why, plan, per-machine timeline, summary', async () => {
    const { context, page } = await signIn(browser, h.url, deployer);
    try {
      await page.goto(`${h.url}/dashboard/deploys/${finished.staging}`);
      assert.equal(await page.locator('#deploy-head').getAttribute('data-status'), 'succeeded');
      assert.match(
        (await page.locator('.emergency').textContent()) ?? '',
        /EMERGENCY deploy — root broke glass: “main is broken, hotfix <b>now<\/b>”/,
      );
      assert.match((await page.locator('.facts').textContent()) ?? '', /responsibleroot \(a named human\)/);
      assert.match((await page.locator('.facts').textContent()) ?? '', /triggermanual/);
      // The timeline from the store: one row per machine (sampled), each with an update bar.
      await waitFor(page, `Number(document.getElementById('timeline').dataset.rows) > 0`);
      const rows = Number(await page.locator('#timeline').getAttribute('data-rows'));
      assert.ok(rows >= 40 && rows <= 60, `rows ${rows}`);
      assert.ok((await page.locator('.tl-bar[data-op="update"]').count()) >= rows);
      assert.equal(await page.locator('.tl-bar.run').count(), 0, 'nothing in flight on a finished deploy');
      assert.match((await page.locator('#timeline-stats').textContent()) ?? '', /48 machines touched/);
      assert.match((await page.locator('#summary').textContent()) ?? '', /on target48 \/ 48/);
      // staging is not pat's: no actions.
      assert.equal(await page.locator('button[data-action]').count(), 0);
      await page.goto(`${h.url}/dashboard/deploys/${finished.production}`);
      assert.match((await page.locator('.facts').textContent()) ?? '', /responsiblepat/);
      assert.match((await page.locator('.facts').textContent()) ?? '', /reasonweekly release/);
      assert.equal(await page.locator('#waves li').count(), await page.locator('#waves li.w-done').count());
      assert.equal(await page.locator('button[data-action="rollback"]').count(), 1);
      await waitFor(page, `Number(document.getElementById('timeline').dataset.rows) > 0`);
      await shot(page, 'deploy-finished');
    } finally {
      await context.close();
    }
  });

  it('a running deploy: the timeline advances live; abort from the page (confirmed) stops it', async () => {
    const { context, page } = await signIn(browser, h.url, deployer);
    try {
      const id = await deploy(deployer, { env: 'production', release: 'v3', reason: 'ship v3' });
      await page.goto(`${h.url}/dashboard/deploys/${id}`);
      // Held at 6 updates (the spearheads and part of the first batch): seen, then let on.
      await waitFor(page, `Number(document.getElementById('timeline').dataset.done) >= 3`);
      const timeline = `({ done: Number(document.getElementById('timeline').dataset.done), span: Number(document.getElementById('timeline').dataset.span) })`;
      const first = await evaluate<{ done: number; span: number }>(page, timeline);
      assert.ok(first.done <= 6, JSON.stringify(first));
      // Held again at 20 of 48: the rest of its batch is in flight, and the deploy cannot finish before the abort.
      hold.allow(20);
      await waitFor(page, `Number(document.getElementById('timeline').dataset.done) >= 20`);
      const second = await evaluate<{ done: number; span: number }>(page, timeline);
      assert.ok(second.done > first.done && second.span > first.span, JSON.stringify({ first, second }));
      assert.ok((await page.locator('.tl-bar.run').count()) > 0, 'bars in flight');
      assert.match((await page.locator('#pct').textContent()) ?? '', /^\d+(\.\d)?%$/);
      assert.equal(await page.locator('#deploy-head').getAttribute('data-status'), 'running');
      // For the picture: the spearheads and two batches done, the next batch under way.
      await page.waitForTimeout(600);
      await shot(page, 'deploy', { doc: true });

      // The overview shows it running, with progress, and the lock held by it.
      const overview = await context.newPage();
      await overview.goto(`${h.url}/dashboard`);
      await overview.locator(`#env-production a.running[data-deploy="${id}"]`).waitFor();
      assert.equal(await overview.locator('#env-production .lock').getAttribute('data-lock'), id);
      await shot(overview, 'overview-running', { doc: true, name: 'overview' });
      await overview.close();

      // Abort: a confirmation first (cancel changes nothing), then confirm with a reason.
      await page.click('button[data-action="abort"]');
      await page.locator('#confirm[open]').waitFor();
      await page.click('#confirm-cancel');
      assert.equal((await h.store.getDeploy(id))?.abortRequestedAtMs, null);
      await page.click('button[data-action="abort"]');
      await page.fill('#confirm-reason', 'wrong release');
      await page.click('#confirm-ok');
      const done = await waitDeploy(id);
      assert.equal(done.status, 'aborted');
      assert.equal(done.abortRequestedBy, 'pat');
      const summary = done.summary as { machines: { onTarget: number; total: number } };
      assert.ok(summary.machines.onTarget < summary.machines.total, 'stopped before every machine was on v3');
      const ledger = (await h.call('GET', '/api/ledger?env=production', { token: h.admin })).json as {
        kind: string;
        deployId: string;
        reason: string;
        responsible: string;
      }[];
      const abort = ledger.find((e) => e.kind === 'deploy.abort_requested' && e.deployId === id);
      assert.equal(abort?.reason, 'wrong release');
      assert.equal(abort?.responsible, 'pat');
      // The page follows the end and shows it.
      await waitFor(page, `document.getElementById('deploy-head')?.dataset.status === 'aborted'`);
      await page.locator('#summary').waitFor();
      await shot(page, 'deploy-aborted');
    } finally {
      await context.close();
    }
  });

  it('a viewer sees no action buttons, and the API refuses its actions even with the page CSRF token', async () => {
    const { context, page } = await signIn(browser, h.url, viewer);
    try {
      const id = await deploy(deployer, { env: 'qa', release: 'v2' });
      await page.goto(`${h.url}/dashboard`);
      assert.equal(await page.locator('button[data-action]').count(), 0);
      assert.match((await page.locator('.who').textContent()) ?? '', /vera\s+viewer/);
      await page.goto(`${h.url}/dashboard/deploys/${id}`);
      await waitFor(page, `Number(document.getElementById('timeline').dataset.rows) >= 0`);
      assert.equal(await page.locator('button[data-action]').count(), 0);
      const refused = await evaluate<{ status: number; body: { error: string; code: string } }>(
        page,
        `(async () => {
        const csrf = document.querySelector('meta[name="runway-csrf"]').getAttribute('content');
        const res = await fetch('/api/deploys/${id}/abort', { method: 'POST', headers: { 'content-type': 'application/json', 'x-runway-csrf': csrf }, body: '{}' });
        return { status: res.status, body: await res.json() };
      })()`,
      );
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'role');
      assert.match(refused.body.error, /vera's token \(viewer\) may not act on qa/);
      // Reading works with the same cookie.
      const read = await evaluate<{ name: string; role: string }>(page, `fetch('/api/whoami').then((r) => r.json())`);
      assert.deepEqual({ name: read.name, role: read.role }, { name: 'vera', role: 'viewer' });
      assert.equal((await h.store.getDeploy(id))?.abortRequestedAtMs, null);
      await waitDeploy(id);
    } finally {
      await context.close();
    }
  });

  it('deploy health: KPIs and three uPlot charts; the window is selectable', async () => {
    const { context, page } = await signIn(browser, h.url, viewer);
    try {
      await page.goto(`${h.url}/dashboard/health`);
      await waitFor(page, `document.body.dataset.charts === '3'`);
      assert.equal(await page.locator('.uplot canvas').count(), 3);
      // 4 deploys finished so far (2 history, 1 aborted, 1 qa): 3 succeeded of 4.
      assert.equal((await page.locator('#kpi-success .value').textContent())?.trim(), '75.0%');
      assert.equal((await page.locator('#kpi-aborts .value').textContent())?.trim(), '1');
      assert.equal((await page.locator('#kpi-emergencies .value').textContent())?.trim(), '1');
      assert.equal(await page.locator('#by-strategy tbody tr').count(), 3);
      assert.equal(await page.locator('.seg-control a.active[data-window="7"]').count(), 1);
      await shot(page, 'health-live-only');
      // A month of history (seeded rows, as the executor writes them): the 30-day window has it all,
      // the 7-day one only its last week.
      await seedHistory(h.store, { app: 'shop', nowMs: Date.now(), count: 240, days: 28 });
      await page.click('a[data-window="30"]');
      await page.waitForURL(/window=30/);
      assert.equal(await page.locator('.seg-control a.active[data-window="30"]').count(), 1);
      await waitFor(page, `document.body.dataset.charts === '3'`);
      const deploys30 = Number(
        ((await page.locator('#kpi-success .sub').textContent()) ?? '').match(/of (\d+) finished/)?.[1],
      );
      assert.equal(deploys30, 244);
      assert.ok(Number(await page.locator('#kpi-rollbacks .value').textContent()) > 0);
      assert.equal(await page.locator('#by-strategy tbody tr').count(), 5);
      await shot(page, 'health', { doc: true });
      await page.click('a[data-window="7"]');
      await page.waitForURL(/window=7/);
      const deploys7 = Number(
        ((await page.locator('#kpi-success .sub').textContent()) ?? '').match(/of (\d+) finished/)?.[1],
      );
      assert.ok(deploys7 > 4 && deploys7 < 244, String(deploys7));
    } finally {
      await context.close();
    }
  });

  it('ledger: verified chain with entries; an edited entry shows the chain broken', async () => {
    const { context, page } = await signIn(browser, h.url, viewer);
    try {
      await page.goto(`${h.url}/dashboard/ledger`);
      assert.equal(await page.locator('#ledger-verify').getAttribute('data-ok'), 'true');
      assert.ok((await page.locator('table.ledger tbody tr').count()) >= 6);
      assert.equal((await page.locator('tr.emergency-row').count()) > 0, true);
      await shot(page, 'ledger', { doc: true });
      await (h.store as KyselyStore).db
        .updateTable('ledger')
        .set({ reason: 'edited afterwards' })
        .where('seq', '=', 2)
        .execute();
      // Verification is cached until the head moves (or 30 s pass): append an entry.
      await h.token('late', 'viewer');
      await page.goto(`${h.url}/dashboard/ledger`);
      assert.equal(await page.locator('#ledger-verify').getAttribute('data-ok'), 'false');
      assert.match((await page.locator('#ledger-verify').textContent()) ?? '', /entry 2 was edited/);
      await shot(page, 'ledger-broken');
    } finally {
      await context.close();
    }
  });
});
