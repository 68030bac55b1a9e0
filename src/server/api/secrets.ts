// Secrets of an environment: list (names, versions, digests — never values), set/unset (staged,
// recorded in the ledger with the responsible human), and apply (a deploy of what runs, carrying
// the staged version; policy as for any deploy). Values are accepted in request bodies and never
// appear in a response, an error, a log line or the ledger.

import type { Context, Hono } from 'hono';
import { appendLedger } from '../../ledger/ledger.js';
import { loadSecretKey } from '../../secrets/key.js';
import { deployReplacedFleet } from '../../domain/fleet-replaced.js';
import { changeSecrets, checkSecretName, listSecrets } from '../../secrets/secrets.js';
import { dispatch } from '../../triggers/dispatch.js';
import { notDispatched } from './deploys.js';
import {
  ApiError,
  caller,
  freeText,
  optionalBoolean,
  optionalString,
  readJson,
  requireActOn,
  requireEnvironment,
  type ApiEnv,
  type ControlPlane,
} from './http.js';

/** Secret changes are a person's: an automation token must name who it acts for (a refusal is in the ledger). */
async function changer(c: Context<ApiEnv>, cp: ControlPlane, env: string) {
  const who = caller(c);
  if (who.initiator.kind !== 'human') {
    const why = `secret changes need a named human responsible; an automation token must send X-Runway-On-Behalf-Of: <login>`;
    await appendLedger(cp.store, cp.clock, {
      kind: 'policy.refused',
      app: cp.config.app.name,
      env,
      responsible: who.initiator.name || 'unknown',
      initiator: who.label,
      trigger: 'secrets',
      data: {
        why,
        wouldBeAllowed: [
          'the same change by a personal token',
          'the automation token naming the person it acts for (X-Runway-On-Behalf-Of)',
        ],
        via: 'api',
        action: 'change-secrets',
      },
    });
    throw new ApiError(403, why, { code: 'policy' });
  }
  return who;
}

export function secretRoutes(api: Hono<ApiEnv>, cp: ControlPlane): void {
  const app = cp.config.app.name;
  const key = () => loadSecretKey({ env: cp.processEnv, keyFile: cp.config.secrets?.keyFile });

  const change = async (
    c: Context<ApiEnv>,
    env: string,
    set: Record<string, string>,
    unset: string[],
    reason: string | null,
  ) => {
    freeText('"reason"', reason);
    const who = await changer(c, cp, env);
    const result = await changeSecrets(cp.store, key(), cp.clock, {
      app,
      env,
      set,
      unset,
      by: who.initiator.name,
      initiator: who.label,
      trigger: 'api',
      reason,
    });
    const listing = await listSecrets(cp.store, app, env);
    return c.json({
      env,
      changed: result.changed,
      stagedVersion: result.version,
      appliedVersion: listing.appliedVersion,
      secrets: listing.secrets,
    });
  };

  api.get('/environments/:env/secrets', async (c) => {
    const env = c.req.param('env');
    requireEnvironment(cp, env);
    return c.json(await listSecrets(cp.store, app, env));
  });

  api.put('/environments/:env/secrets/:name', async (c) => {
    const env = c.req.param('env');
    requireActOn(c, cp, env);
    const name = c.req.param('name');
    checkSecretName(name);
    const body = await readJson(c, cp.maxBodyBytes);
    const value = body.value;
    if (typeof value !== 'string') throw new ApiError(400, `"value" (a string) is required to set ${name}`);
    return change(c, env, { [name]: value }, [], optionalString(body, 'reason') ?? null);
  });

  api.delete('/environments/:env/secrets/:name', async (c) => {
    const env = c.req.param('env');
    requireActOn(c, cp, env);
    const name = c.req.param('name');
    checkSecretName(name);
    if (!(await cp.store.listSecrets(app, env)).some((s) => s.name === name))
      throw new ApiError(404, `${env} has no secret ${name}`);
    return change(c, env, {}, [name], c.req.query('reason') ?? null);
  });

  api.post('/environments/:env/secrets', async (c) => {
    const env = c.req.param('env');
    requireActOn(c, cp, env);
    const body = await readJson(c, cp.maxBodyBytes);
    const set = body.set ?? {};
    if (
      typeof set !== 'object' ||
      set === null ||
      Array.isArray(set) ||
      Object.values(set).some((v) => typeof v !== 'string')
    ) {
      throw new ApiError(400, '"set" must be an object of secret names to string values');
    }
    const unset = body.unset ?? [];
    if (!Array.isArray(unset) || unset.some((n) => typeof n !== 'string'))
      throw new ApiError(400, '"unset" must be a list of secret names');
    return change(c, env, set as Record<string, string>, unset as string[], optionalString(body, 'reason') ?? null);
  });

  api.post('/environments/:env/secrets/apply', async (c) => {
    const env = c.req.param('env');
    requireActOn(c, cp, env);
    const body = await readJson(c, cp.maxBodyBytes);
    const who = caller(c);
    const outcome = await dispatch(
      cp,
      {
        env,
        release: null,
        action: 'apply-secrets',
        trigger: 'secrets',
        initiator: who.initiator,
        emergency: optionalBoolean(body, 'emergency'),
        reason: optionalString(body, 'reason') ?? null,
        context: { via: 'api' },
      },
      { via: 'api', initiatorLabel: who.label },
    );
    if (outcome.outcome !== 'started') return notDispatched(c, env, outcome);
    const deploy = await cp.store.getDeploy(outcome.deployId);
    // Plans are keyed by release: re-deploying what runs replaces no machine.
    const replaces = deployReplacedFleet(deploy?.plan ?? null, 1);
    return c.json(
      {
        deployId: outcome.deployId,
        release: outcome.release,
        secretsVersion: deploy?.secretsVersion ?? null,
        policy: { responsible: outcome.responsible, emergency: outcome.emergency, note: outcome.note },
        ...(replaces
          ? {}
          : {
              warning: `${outcome.release} already runs on every machine of ${env}, so this deploy replaces none and the staged secrets are not applied yet; they reach the machines with the next deploy that replaces them (a new release)`,
            }),
      },
      201,
    );
  });
}
