// Deploys: list, show, create (a Manual deploy: policy first), abort, promote, and roll back an
// environment. Creating and rolling back go through the same policy as every trigger; a refusal is
// 403 with `why` and `wouldBeAllowed`, and is recorded in the ledger.

import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { STRATEGIES, type DeployStatus, type StrategyName } from '../../domain/types.js';
import { appendLedger } from '../../ledger/ledger.js';
import { dispatch, type DispatchOutcome } from '../../triggers/dispatch.js';
import { formatRefusal } from '../../deploys/policy.js';
import { deployClock } from '../../deploys/simulated-time.js';
import type { DeployRecord } from '../../store/contract.js';
import {
  ApiError,
  caller,
  freeText,
  optionalBoolean,
  optionalString,
  positiveInt,
  readJson,
  requireActOn,
  type ApiEnv,
  type ControlPlane,
} from './http.js';

const STATUSES: DeployStatus[] = ['pending', 'running', 'succeeded', 'failed', 'aborted', 'rolled_back', 'halted'];

function strategyOf(body: Record<string, unknown>): StrategyName | undefined {
  const s = optionalString(body, 'strategy');
  if (s === undefined) return undefined;
  if (!(STRATEGIES as readonly string[]).includes(s))
    throw new ApiError(400, `unknown strategy "${s}" (one of: ${STRATEGIES.join(', ')})`);
  return s as StrategyName;
}

function withoutPlan(d: DeployRecord): Omit<DeployRecord, 'plan'> {
  const { plan: _plan, ...rest } = d;
  return rest;
}

/** The answer to a dispatch that started no deploy: refused by policy (403 with why), or an error. */
export function notDispatched(
  c: Context<ApiEnv>,
  env: string,
  outcome: Exclude<DispatchOutcome, { outcome: 'started' }>,
): Response {
  if (outcome.outcome === 'refused')
    return c.json(
      {
        error: formatRefusal(env, outcome),
        code: 'policy',
        why: outcome.why,
        wouldBeAllowed: outcome.wouldBeAllowed,
      },
      403,
    );
  return c.json({ error: outcome.error }, outcome.status as ContentfulStatusCode);
}

async function answer(c: Context<ApiEnv>, cp: ControlPlane, outcome: DispatchOutcome): Promise<Response> {
  if (outcome.outcome !== 'started') return notDispatched(c, outcome.env, outcome);
  const deploy = await cp.store.getDeploy(outcome.deployId);
  return c.json(
    {
      deploy: deploy && withoutPlan(deploy),
      policy: {
        responsible: outcome.responsible,
        emergency: outcome.emergency,
        trigger: outcome.trigger,
        note: outcome.note,
      },
    },
    201,
  );
}

export function deployRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  const app = cp.config.app.name;

  /** A deploy (manual) or a rollback asked for by the caller, through the policy like every trigger. */
  const start = async (
    c: Context<ApiEnv>,
    env: string,
    body: Record<string, unknown>,
    how: { release: string | null; trigger: 'manual' | 'rollback' },
  ): Promise<Response> => {
    const who = caller(c);
    const strategy = strategyOf(body);
    const outcome = await dispatch(
      cp,
      {
        env,
        release: how.release,
        action: 'deploy',
        trigger: how.trigger,
        initiator: who.initiator,
        emergency: optionalBoolean(body, 'emergency'),
        reason: optionalString(body, 'reason') ?? null,
        context: { via: 'api' },
      },
      {
        via: 'api',
        initiatorLabel: who.label,
        ...(how.trigger === 'rollback' ? { rollback: true } : {}),
        ...(strategy ? { strategy } : {}),
      },
    );
    return answer(c, cp, outcome);
  };

  api.get('/deploys', async (c) => {
    const env = c.req.query('env');
    const status = c.req.query('status')?.split(',').filter(Boolean);
    const bad = status?.filter((s) => !STATUSES.includes(s as DeployStatus)) ?? [];
    if (bad.length) throw new ApiError(400, `unknown status ${bad.join(', ')} (one of: ${STATUSES.join(', ')})`);
    const deploys = await cp.store.listDeploys({
      app,
      ...(env ? { env } : {}),
      ...(status ? { status: status as DeployStatus[] } : {}),
      limit: positiveInt(c.req.query('limit'), 'limit') ?? 50,
    });
    return c.json(deploys.map(withoutPlan));
  });

  api.get('/deploys/:id', async (c) => {
    const deploy = await cp.store.getDeploy(c.req.param('id'));
    if (!deploy || deploy.app !== app) throw new ApiError(404, `no deploy ${c.req.param('id')}`);
    const live = cp.deploys.get(deploy.id);
    const journal = c.req.query('journal') ? await cp.store.listJournal(deploy.id) : undefined;
    // Which clock its durations and journal offsets were measured on (simulated: the sim provider).
    const clock = deployClock(deploy, cp.config.environments[deploy.env]?.provider === 'sim');
    return c.json({
      ...deploy,
      clock,
      ...(live ? { live: { events: live.events.length, last: live.events[live.events.length - 1] ?? null } } : {}),
      ...(journal ? { journal } : {}),
    });
  });

  api.post('/deploys', async (c) => {
    const body = await readJson(c, cp.maxBodyBytes);
    const env = optionalString(body, 'env');
    if (!env) throw new ApiError(400, '"env" is required');
    requireActOn(c, cp, env);
    return start(c, env, body, { release: optionalString(body, 'release') ?? null, trigger: 'manual' });
  });

  api.post('/environments/:env/rollback', async (c) => {
    const env = c.req.param('env');
    requireActOn(c, cp, env);
    const body = await readJson(c, cp.maxBodyBytes);
    return start(c, env, body, { release: optionalString(body, 'to') ?? null, trigger: 'rollback' });
  });

  const act = (action: 'abort' | 'promote') =>
    api.post(`/deploys/:id/${action}`, async (c) => {
      const deploy = await cp.store.getDeploy(c.req.param('id'));
      if (!deploy || deploy.app !== app) throw new ApiError(404, `no deploy ${c.req.param('id')}`);
      requireActOn(c, cp, deploy.env);
      const body = await readJson(c, cp.maxBodyBytes);
      const who = caller(c);
      const reason = optionalString(body, 'reason') ?? null;
      freeText('"reason"', reason);
      if (action === 'abort') await cp.deploys.abort(deploy.id, who.initiator.name);
      else await cp.deploys.promote(deploy.id, who.initiator.name);
      await appendLedger(cp.store, cp.clock, {
        kind: action === 'abort' ? 'deploy.abort_requested' : 'deploy.promoted',
        app,
        env: deploy.env,
        deployId: deploy.id,
        responsible: who.initiator.name,
        initiator: who.label,
        trigger: 'api',
        reason,
        emergency: deploy.emergency ?? false,
        data: { deployResponsible: deploy.responsible, release: deploy.release },
      });
      return c.json(withoutPlan((await cp.store.getDeploy(deploy.id))!));
    });
  act('abort');
  act('promote');
}
