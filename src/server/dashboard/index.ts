// Size: ~410 lines: one route table, each route a few lines over the page, stream and view modules beside it.
// The dashboard, served by `runway server` under /dashboard (routes in docs/dashboard.md):
//   GET  /dashboard                  overview: per environment the current release, version spread, convergence, running deploys, lock
//   GET  /dashboard/deploys/:id      one deploy: who and why, plan, live per-machine timeline, release steps, summary; abort/promote/roll back
//   GET  /dashboard/health           deploy health over 7/30/90 days (?window=&env=)
//   GET  /dashboard/ledger           the ledger and its verification (?before=SEQ)
//   GET|POST /dashboard/login, POST /dashboard/logout, GET /dashboard/assets/*
//   GET  /api/deploys/:id/events     SSE: a deploy's events (replay, then live)
//   GET  /api/overview/events        SSE: the overview's environment cards as they change
//   GET  /api/health                 deploy health as JSON (?window=&env=)
// Pages need the session cookie (a sign-in with an API token); any role reads, actions are offered
// only where the token may act (and the API checks again).

import type { Context, Hono } from 'hono';
import type { Clock } from '../../domain/clock.js';
import { verifyLedger, type LedgerVerification } from '../../ledger/ledger.js';
import type { DeployHead } from '../../store/contract.js';
import { authenticate, mayActOn, type Principal } from '../auth.js';
import { ApiError, readRawBody, requireToken, type ApiEnv, type ControlPlane } from '../api/http.js';
import { FleetCache } from './fleet-cache.js';
import { outOfTraffic } from '../../engine/settle.js';
import { deliveriesCard, releaseNotesCard, undeliveredCard } from './delivery-view.js';
import { h } from './html.js';
import { healthReport, windowStart, WINDOWS, type WindowDays } from './health.js';
import type { LiveHub } from './live.js';
import {
  envCard,
  errorPage,
  healthBody,
  layout,
  ledgerBody,
  loginPage,
  overviewBody,
  recentTable,
  type EnvCardModel,
  type Viewer,
} from './pages.js';
import { deployBody } from './deploy-page.js';
import { overviewStream } from './overview-stream.js';
import { assetFiles, PAGE_HEADERS } from './static-files.js';
import {
  clearedSessionCookie,
  csrfToken,
  sameOrigin,
  sessionCookie,
  sessionHash,
  sessionPrincipal,
  sessionToken,
  startSession,
} from '../browser-session.js';

export interface DashboardDeps {
  cp: ControlPlane;
  hub: LiveHub;
  fleets: FleetCache;
  /** Wall clock (ages, health windows). */
  wall: Clock;
}

type Signed = { principal: Principal; token: string };

/** The sign-in form: a token (~60 bytes) and where to go next. */
export const LOGIN_MAX_BODY_BYTES = 4096;

export function mountDashboard(app: Hono, deps: DashboardDeps): void {
  const { cp, hub, fleets, wall } = deps;
  const appName = cp.config.app.name;
  const envNames = Object.keys(cp.config.environments);
  const assets = assetFiles();

  const viewerOf = (s: Signed): Viewer => ({
    principal: s.principal,
    csrf: csrfToken(s.token),
    app: appName,
    mayActOn: (env) => mayActOn(s.principal, env),
  });

  const signedIn = async (c: Context): Promise<Signed | undefined> => {
    const id = sessionToken(c);
    const session = id ? await sessionPrincipal(cp.store, wall, id) : undefined;
    if (!id || !session) return undefined;
    await cp.store.touchToken(session.principal.tokenId, wall.now()).catch(() => {});
    return { principal: session.principal, token: id };
  };

  const page = (c: Context, html: string, status = 200) => c.body(html, status as 200, PAGE_HEADERS);

  /** Run a page handler for a signed-in viewer, or send the browser to the sign-in page. */
  const guarded = (handler: (c: Context, viewer: Viewer) => Promise<Response>) => async (c: Context) => {
    const signed = await signedIn(c);
    if (!signed)
      return c.redirect(
        `/dashboard/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`,
        303,
      );
    const started = performance.now();
    const res = await handler(c, viewerOf(signed));
    res.headers.set('server-timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
    return res;
  };

  // ---- sign-in

  const safeNext = (next: string | undefined) =>
    next && /^\/dashboard(\/[A-Za-z0-9_\-/]*)?(\?[A-Za-z0-9_=&%.-]*)?$/.test(next) ? next : '/dashboard';

  app.get('/dashboard/login', (c) => page(c, loginPage(null, safeNext(c.req.query('next')))));
  app.post('/dashboard/login', async (c) => {
    if (!sameOrigin(c))
      return page(c, loginPage('sign-in refused: the form was not sent from this server', '/dashboard'), 403);
    // A token and a path fit in far less: a larger body is refused (413) by its Content-Length before
    // any of it is read, or as soon as more than this has arrived (a chunked upload).
    const text = (await readRawBody(c, LOGIN_MAX_BODY_BYTES)).toString('utf8');
    const form = new URLSearchParams(text);
    const token = (form.get('token') ?? '').trim();
    const next = safeNext(form.get('next') ?? undefined);
    const principal = token ? await authenticate(cp.store, token) : undefined;
    if (!principal) {
      cp.log('dashboard sign-in refused: invalid or revoked token');
      return page(c, loginPage('That token is not valid (unknown, malformed or revoked).', next), 401);
    }
    cp.log(`dashboard sign-in: ${principal.name} (${principal.role})`);
    const sessionId = await startSession(cp.store, wall, principal.tokenId);
    return c.body(null, 303, {
      location: next,
      'set-cookie': sessionCookie(c, sessionId),
      'cache-control': 'no-store',
    });
  });
  app.post('/dashboard/logout', async (c) => {
    if (!sameOrigin(c)) return c.json({ error: 'cross-origin request refused' }, 403);
    // Signing out ends the session on the server: the cookie, if kept or copied, opens nothing.
    const id = sessionToken(c);
    if (id) {
      await cp.store.endSession(sessionHash(id), wall.now());
      cp.streams.endSession(sessionHash(id));
    }
    return c.body(null, 303, {
      location: '/dashboard/login',
      'set-cookie': clearedSessionCookie(c),
      'cache-control': 'no-store',
    });
  });

  app.get('/dashboard/assets/:name', (c) => {
    const file = assets.get(c.req.param('name'));
    if (!file) return c.json({ error: `no asset ${c.req.param('name')}` }, 404);
    return c.body(file.body, 200, {
      'content-type': file.type,
      'cache-control': 'public, max-age=300',
      'x-content-type-options': 'nosniff',
    });
  });

  // ---- overview

  const overviewModels = async (): Promise<{ cards: EnvCardModel[]; recent: DeployHead[] }> => {
    const running = await cp.store.listDeployHeads({ app: appName, status: ['running', 'pending'] });
    const cards = await Promise.all(
      Object.values(cp.config.environments).map(async (env): Promise<EnvCardModel> => {
        const [lock, [current], [last], fleet] = await Promise.all([
          cp.store.getLock(appName, env.name),
          cp.store.listDeployHeads({ app: appName, env: env.name, status: ['succeeded'], limit: 1 }),
          cp.store.listDeployHeads({ app: appName, env: env.name, limit: 1 }),
          fleets.get(env.name),
        ]);
        const runningHere = running
          .filter((d) => d.env === env.name)
          .map((d) => ({ deploy: d, progress: hub.progress(d.id) }));
        const serving = fleet.machines.filter((m) => m.role === 'serving' && m.state !== 'destroyed');
        const byRelease = new Map<string, number>();
        for (const m of serving) byRelease.set(m.release, (byRelease.get(m.release) ?? 0) + 1);
        const target = runningHere[0]?.deploy.release ?? current?.release ?? null;
        const onTarget = target
          ? serving.filter((m) => m.release === target && m.state === 'started' && m.health === 'passing').length
          : 0;
        const changing = fleet.machines.filter(
          (m) => m.state === 'created' || m.state === 'starting' || m.state === 'stopping',
        ).length;
        return {
          name: env.name,
          provider: env.provider,
          strategy: env.strategy,
          trigger: env.trigger ?? 'none',
          initiation: env.initiation,
          currentRelease: current?.release ?? null,
          lock: lock ?? null,
          fleet:
            fleet.observedAtMs === 0 && !fleet.error
              ? null
              : {
                  total: fleet.machines.filter((m) => m.role !== 'release-command').length,
                  serving: serving.length,
                  byRelease: [...byRelease].map(([release, count]) => ({ release, count })),
                  extra: fleet.machines.filter((m) => m.role !== 'serving' && m.role !== 'release-command').length,
                  failed: fleet.machines.filter((m) => m.state === 'failed').length,
                  unhealthy: fleet.machines.filter((m) => m.state === 'started' && m.health === 'critical').length,
                  starting: changing,
                  // While a deploy runs here, machines out of traffic are its work, not something left.
                  ...(runningHere.length === 0 ? { outOfTraffic: outOfTraffic(fleet.machines).map((m) => m.id) } : {}),
                  observedAtMs: fleet.observedAtMs,
                  error: fleet.error,
                },
          convergence: target && serving.length > 0 ? { target, onTarget, total: serving.length } : null,
          running: runningHere,
          last: last ?? null,
        };
      }),
    );
    const recent = await cp.store.listDeployHeads({ app: appName, limit: 15 });
    return { cards, recent };
  };

  // Shared by every page load and overview stream for a second: N viewers cost one set of reads.
  let overviewCache: { atMs: number; value: Promise<{ cards: EnvCardModel[]; recent: DeployHead[] }> } | undefined;
  const sharedOverview = () => {
    const now = wall.now();
    if (!overviewCache || now - overviewCache.atMs >= 1_000) {
      const value = overviewModels();
      overviewCache = { atMs: now, value };
      value.catch(() => (overviewCache = undefined));
    }
    return overviewCache.value;
  };

  const renderOverview = async (viewer: Viewer) => {
    const { cards, recent } = await sharedOverview();
    const now = wall.now();
    return { cards: cards.map((m) => envCard(m, viewer, now)), recent: recentTable(recent, now) };
  };

  app.get(
    '/dashboard',
    guarded(async (c, viewer) => {
      const { cards, recent } = await renderOverview(viewer);
      const stuck = undeliveredCard(
        await cp.store.listOutbox({ state: ['pending', 'failed'], outwardOnly: true, limit: 500 }),
      );
      return page(
        c,
        layout('Overview', 'overview', viewer, h`${stuck}${overviewBody(cards, recent)}`, ['common', 'overview']),
      );
    }),
  );

  // ---- deploy page

  app.get(
    '/dashboard/deploys/:id',
    guarded(async (c, viewer) => {
      const deploy = await cp.store.getDeploy(c.req.param('id') ?? '');
      if (!deploy || deploy.app !== appName)
        return page(c, errorPage(404, `no deploy ${c.req.param('id')}`, viewer), 404);
      const journal = await cp.store.listJournal(deploy.id);
      const progress = hub.progress(deploy.id);
      const extras = [
        releaseNotesCard(await cp.store.getRelease(appName, deploy.release), cp.config.github),
        deliveriesCard(await cp.store.listOutbox({ deployId: deploy.id })),
      ];
      const body = deployBody(
        {
          deploy,
          journal,
          progress,
          live: progress !== undefined,
          nowMs: wall.now(),
          simulated: cp.config.environments[deploy.env]?.provider === 'sim',
          extras,
        },
        viewer,
      );
      return page(c, layout(`${deploy.release} → ${deploy.env}`, 'deploy', viewer, body, ['common', 'deploy']));
    }),
  );

  // ---- health

  const windowOf = (value: string | undefined): WindowDays => {
    const n = Number(value ?? 7);
    if (!(WINDOWS as readonly number[]).includes(n))
      throw new ApiError(400, `window must be one of ${WINDOWS.join(', ')} (days)`);
    return n as WindowDays;
  };
  const envOf = (value: string | undefined): string | null => {
    if (!value) return null;
    if (!envNames.includes(value))
      throw new ApiError(404, `unknown environment "${value}" (known: ${envNames.join(', ')})`);
    return value;
  };
  const report = async (windowDays: WindowDays, env: string | null) => {
    const now = wall.now();
    const rows = await cp.store.listDeployStats({
      app: appName,
      sinceMs: windowStart(now, windowDays),
      ...(env ? { env } : {}),
    });
    return healthReport(rows, { nowMs: now, windowDays, env });
  };

  app.get(
    '/dashboard/health',
    guarded(async (c, viewer) => {
      let windowDays: WindowDays;
      let env: string | null;
      try {
        windowDays = windowOf(c.req.query('window'));
        env = envOf(c.req.query('env'));
      } catch (err) {
        const e = err as ApiError;
        return page(c, errorPage(e.status, e.message, viewer), e.status);
      }
      const r = await report(windowDays, env);
      return page(
        c,
        layout('Deploy health', 'health', viewer, healthBody(r, envNames, wall.now()), ['uplot', 'common', 'health']),
      );
    }),
  );

  // ---- ledger (verification cached while the ledger's head stays put, at most 30 s)

  let verified: { key: string; atMs: number; result: LedgerVerification } | undefined;
  app.get(
    '/dashboard/ledger',
    guarded(async (c, viewer) => {
      const head = await cp.store.ledgerHead();
      const key = `${head.seq}:${head.hash}`;
      if (verified?.key !== key || wall.now() - verified.atMs > 30_000)
        verified = { key, atMs: wall.now(), result: await verifyLedger(cp.store) };
      const pageSize = 100;
      const beforeText = c.req.query('before');
      const before = beforeText && /^\d+$/.test(beforeText) ? Math.min(Number(beforeText), head.seq + 1) : head.seq + 1;
      const after = Math.max(0, before - 1 - pageSize);
      const entries = (await cp.store.listLedger({ afterSeq: after, limit: before - 1 - after }))
        .filter((e) => e.seq < before)
        .reverse();
      const older = after > 0 ? after + 1 : null;
      const newer = before <= head.seq ? Math.min(head.seq + 1, before + pageSize) : null;
      return page(
        c,
        layout('Ledger', 'ledger', viewer, ledgerBody(verified.result, entries, { older, newer }, wall.now()), [
          'common',
        ]),
      );
    }),
  );

  app.get(
    '/dashboard/*',
    guarded(async (c, viewer) => page(c, errorPage(404, `no page ${c.req.path}`, viewer), 404)),
  );

  // ---- API additions (same auth as the rest of /api: Bearer token or the session cookie)

  const api = app as unknown as Hono<ApiEnv>;
  const auth = requireToken(cp);

  /** The same event stream, ended when the request's token is revoked or its dashboard session ends. */
  const guardStream = (c: Context<ApiEnv>, res: Response): Response =>
    res.body
      ? new Response(
          cp.streams.guard({ tokenId: c.get('principal').tokenId, sessionHash: c.get('sessionHash') }, res.body),
          { status: res.status, headers: res.headers },
        )
      : res;

  api.get('/api/deploys/:id/events', auth, async (c) => {
    // A deploy running here needs no store read (its record holds a plan that can be megabytes).
    const live = cp.deploys.get(c.req.param('id'));
    if (live && live.deploy.app === appName)
      return guardStream(c, await hub.respond(live.deploy.id, live.deploy.startedAtMs));
    const deploy = await cp.store.getDeployHead(c.req.param('id'));
    if (!deploy || deploy.app !== appName) throw new ApiError(404, `no deploy ${c.req.param('id')}`);
    return guardStream(c, await hub.respond(deploy.id, deploy.startedAtMs));
  });

  api.get('/api/health', auth, async (c) => {
    const r = await report(windowOf(c.req.query('window')), envOf(c.req.query('env')));
    return c.json(r);
  });

  // The overview stream: one renderer per connected principal role set is overkill; cards are rendered
  // per viewer (actions differ), at most once a second, and sent only when they changed.
  api.get('/api/overview/events', auth, (c) => {
    const principal = c.get('principal');
    const token = sessionToken(c) ?? '';
    const viewer = viewerOf({ principal, token });
    const stream = overviewStream(hub, async () => {
      const { cards, recent } = await renderOverview(viewer);
      return JSON.stringify({
        cards: Object.fromEntries(cards.map((card, i) => [envNames[i]!, card.value])),
        recent: recent.value,
      });
    });
    return guardStream(
      c,
      new Response(stream, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-store',
          'x-accel-buffering': 'no',
        },
      }),
    );
  });
}

export { FleetCache } from './fleet-cache.js';
export { LiveHub } from './live.js';
