// Prometheus metrics at GET /metrics (prom-client), one registry per server:
//   runway_deploys_total{app,env,strategy,result}                      deploys this instance finished
//   runway_deploy_duration_seconds{app,env,strategy,phase}             time to dispatch / to converge (histogram)
//   runway_deploys_in_progress{app,env}                                deploys this instance runs now
//   runway_fleet_machines{app,env,release,state}                       machines as last observed (dashboard fleet cache)
//   runway_provider_requests_total{provider,op,code}                   provider calls by outcome: ok, or the error's
//                                                                      HTTP status / kind (after retries)
// plus Node's process metrics (prom-client's defaults, prefixed runway_). Counters are per
// instance: with several instances on one store, sum them (deploys) and take max (fleet gauges).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Hono } from 'hono';
import { ProviderError, type Provider } from '../providers/contract.js';
import type { ProviderSession } from '../providers/session.js';
import type { DeploySummary } from '../engine/summary.js';
import type { DeployHooks, LiveDeploy } from './deploy-service.js';
import type { DeployRecord, Store } from '../store/contract.js';
import type { Machine } from '../domain/types.js';
import { authenticate, bearerToken } from './auth.js';

/** Provider methods counted as requests, and the `op` label each gets. */
const COUNTED: Record<string, string> = {
  list: 'list',
  get: 'get',
  create: 'create',
  update: 'update',
  start: 'start',
  stop: 'stop',
  destroy: 'destroy',
  cordon: 'cordon',
  uncordon: 'uncordon',
  waitFor: 'wait',
};

export interface FleetSource {
  /** Per environment, the machines last observed (without calling a provider when fresh enough). */
  fleets(): Promise<{ app: string; env: string; machines: Machine[] }[]>;
}

export class RunwayMetrics {
  readonly registry = new Registry();
  readonly deploysTotal: Counter<'app' | 'env' | 'strategy' | 'result'>;
  readonly deployDuration: Histogram<'app' | 'env' | 'strategy' | 'phase'>;
  readonly providerRequests: Counter<'provider' | 'op' | 'code'>;
  private fleetSource: FleetSource | undefined;

  /** `running`: the deploys this instance runs now (DeployService.running). */
  constructor(running: () => LiveDeploy[]) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'runway_' });
    this.deploysTotal = new Counter({
      name: 'runway_deploys_total',
      help: 'Deploys this instance ran to the end, by final status (result)',
      labelNames: ['app', 'env', 'strategy', 'result'],
      registers,
    });
    this.deployDuration = new Histogram({
      name: 'runway_deploy_duration_seconds',
      help: 'Time from a deploy starting until every change was accepted (phase="dispatch") and until every machine ran the target and passed checks (phase="converge")',
      labelNames: ['app', 'env', 'strategy', 'phase'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200],
      registers,
    });
    this.providerRequests = new Counter({
      name: 'runway_provider_requests_total',
      help: 'Provider requests made by deploys and the dashboard, by operation and outcome (ok, an HTTP status, or an error kind), after retries',
      labelNames: ['provider', 'op', 'code'],
      registers,
    });
    new Gauge({
      name: 'runway_deploys_in_progress',
      help: 'Deploys this instance is running now',
      labelNames: ['app', 'env'],
      registers,
      collect() {
        this.reset();
        for (const live of running()) this.inc({ app: live.deploy.app, env: live.deploy.env });
      },
    });
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: 'runway_fleet_machines',
      help: 'Machines of each environment by release and state, as last observed (cached for a few seconds)',
      labelNames: ['app', 'env', 'release', 'state'],
      registers,
      async collect() {
        this.reset();
        const fleets = (await self.fleetSource?.fleets().catch(() => [])) ?? [];
        for (const { app, env, machines } of fleets) {
          for (const m of machines) {
            if (m.state === 'destroyed' || m.role === 'release-command') continue;
            this.inc({ app, env, release: m.release, state: m.state });
          }
        }
      },
    });
  }

  setFleetSource(source: FleetSource): void {
    this.fleetSource = source;
  }

  /** Record a deploy that ended (from the deploy service's `ended` hook). */
  deployEnded(deploy: DeployRecord, summary: DeploySummary | undefined): void {
    const strategy = summary?.strategy ?? deploy.strategy;
    const labels = { app: deploy.app, env: deploy.env, strategy };
    this.deploysTotal.inc({ ...labels, result: summary?.status ?? deploy.status });
    if (summary?.dispatchedAtMs !== null && summary?.dispatchedAtMs !== undefined) {
      this.deployDuration.observe({ ...labels, phase: 'dispatch' }, summary.dispatchedAtMs / 1000);
    }
    if (summary?.convergedAtMs !== null && summary?.convergedAtMs !== undefined) {
      this.deployDuration.observe({ ...labels, phase: 'converge' }, summary.convergedAtMs / 1000);
    }
  }

  /** The same session, its provider counting every request by op and outcome. */
  instrumentSession(session: ProviderSession): ProviderSession {
    return { ...session, provider: countingProvider(session.provider, this.providerRequests) };
  }

  /** Deploy hooks that record ends here, then call `inner`'s. */
  hooks(inner: DeployHooks): DeployHooks {
    return {
      ...inner,
      ended: async (deploy, summary, error) => {
        try {
          this.deployEnded(deploy, summary);
        } finally {
          await inner.ended?.(deploy, summary, error);
        }
      },
    };
  }
}

function outcomeCode(err: unknown): string {
  if (err instanceof ProviderError) return err.details.status !== undefined ? String(err.details.status) : err.kind;
  return 'error';
}

/**
 * A provider whose API calls are counted. Everything else (subscribe, drain, logs, checkRelease,
 * close, the name) passes through untouched, so the executor sees the same provider.
 */
export function countingProvider(provider: Provider, counter: Counter<'provider' | 'op' | 'code'>): Provider {
  const name = provider.name;
  return new Proxy(provider, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof prop !== 'string' || typeof value !== 'function' || !Object.hasOwn(COUNTED, prop)) {
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      const op = COUNTED[prop]!;
      return async (...args: unknown[]) => {
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          counter.inc({ provider: name, op, code: 'ok' });
          return result;
        } catch (err) {
          counter.inc({ provider: name, op, code: outcomeCode(err) });
          throw err;
        }
      };
    },
  });
}

/**
 * GET /metrics in Prometheus' text format. Needs a token of any role (Authorization: Bearer, as a
 * Prometheus scrape config's `authorization: { credentials_file: ... }` sends it).
 */
export function mountMetrics(app: Hono, metrics: RunwayMetrics, store: Store): void {
  app.get('/metrics', async (c) => {
    const token = bearerToken(c.req.header('authorization'));
    if (!token) return c.json({ error: 'authentication required: send Authorization: Bearer <token> (any role)' }, 401);
    if (!(await authenticate(store, token))) return c.json({ error: 'invalid or revoked token' }, 401);
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
}
