// Who may start a deploy, and who is responsible for it (DESIGN.md, "Responsibility and triggers":
// a human has autonomy exactly where a human is responsible). A pure function of the environment's
// policy (trigger, initiation, allow_cli) and the request (what triggered it, who initiated it, the
// way it came in, and the emergency break-glass). Every refusal says why and what would be allowed.
// The full matrix is in docs/policy.md; test/triggers/policy.test.ts checks every cell.

import type { EnvironmentConfig } from '../config/types.js';

/** What started the request. */
export type RequestTrigger = 'release' | 'push' | 'manual' | 'cli' | 'rollback' | 'recover' | 'secrets';
/** How it reached runway. */
export type Via = 'cli' | 'api' | 'webhook';

export interface Initiator {
  kind: 'human' | 'automation';
  /** A person's login, or the automation's name. */
  name: string;
}

export interface PolicyRequest {
  trigger: RequestTrigger;
  /** The pushed branch, for trigger `push`. */
  branch?: string | undefined;
  initiator: Initiator;
  via: Via;
  /** The break-glass: a human takes responsibility where automation normally is. Needs a reason. */
  emergency?: boolean | undefined;
  reason?: string | null | undefined;
}

export type PolicyEnvironment = Pick<EnvironmentConfig, 'name' | 'trigger' | 'initiation' | 'allowCli'>;

export type PolicyDecision =
  | {
      allowed: true;
      /** A named human, or `automation`. */
      responsible: string;
      emergency: boolean;
      /** The trigger as the deploy records it: release, push:<branch>, manual, cli, rollback, secrets. */
      trigger: string;
      /** One line on why it is allowed (shown, and kept in the journal). */
      note: string;
    }
  | {
      allowed: false;
      why: string;
      /** What would be allowed instead, one option per line. */
      wouldBeAllowed: string[];
    };

/** Exit code of a CLI command refused by policy. */
export const EXIT_REFUSED = 5;

export const AUTOMATION = 'automation';

function describeTrigger(trigger: string | null): string {
  if (trigger === 'release') return 'a published release';
  if (trigger?.startsWith('push:')) return `a push to ${trigger.slice('push:'.length)}`;
  if (trigger === 'manual') return 'a manual deploy';
  return 'its trigger';
}

function recordedTrigger(request: PolicyRequest): string {
  return request.trigger === 'push' ? `push:${request.branch ?? ''}` : request.trigger;
}

/** Does the request come from the event the environment is configured to deploy on? */
function isEnvironmentTrigger(env: PolicyEnvironment, request: PolicyRequest): boolean {
  if (request.trigger === 'release') return env.trigger === 'release';
  if (request.trigger === 'push') return request.branch !== undefined && env.trigger === `push:${request.branch}`;
  return false;
}

const BREAK_GLASS =
  'an emergency break-glass by a named human: --emergency --reason "…" on the CLI, "emergency": true with a "reason" in the API, or the Manual deploy workflow\'s emergency input; that human becomes responsible and the deploy is flagged as an emergency everywhere';

function refuse(why: string, wouldBeAllowed: string[]): PolicyDecision {
  return { allowed: false, why, wouldBeAllowed };
}

export function decidePolicy(env: PolicyEnvironment, request: PolicyRequest): PolicyDecision {
  const trigger = recordedTrigger(request);
  const who = request.initiator.name.trim();
  const human = request.initiator.kind === 'human';
  const reason = request.reason?.trim() ?? '';

  if (human && who === '') {
    return refuse(`a deploy of ${env.name} needs a named human: the initiator has no name`, [
      'the same request naming the person making it (--as NAME, or a personal API token)',
    ]);
  }

  if (request.emergency) {
    if (!human) {
      return refuse(`the emergency break-glass is a human taking responsibility; automation (${who}) cannot use it`, [
        `${describeTrigger(env.trigger)}${env.initiation === 'automatic' ? ' (automation deploys it)' : ''}`,
        'a named human using the break-glass with a reason',
      ]);
    }
    if (reason === '') {
      return refuse('an emergency deploy needs a reason: say why, it is recorded with your name', [
        `the same request with --reason "…" (API: "reason")`,
      ]);
    }
    return {
      allowed: true,
      responsible: who,
      emergency: true,
      trigger,
      note: `EMERGENCY: ${who} broke glass on ${env.name} and is responsible for this deploy (${reason})`,
    };
  }

  if (env.initiation === 'automatic') {
    if (isEnvironmentTrigger(env, request)) {
      const by = human ? ` (${who}'s ${request.trigger === 'release' ? 'release' : 'push'} is kept as context)` : '';
      return {
        allowed: true,
        responsible: AUTOMATION,
        emergency: false,
        trigger,
        note: `${env.name} deploys automatically on ${describeTrigger(env.trigger)}; responsible: automation${by}`,
      };
    }
    const why = human
      ? `${env.name} deploys automatically (on ${describeTrigger(env.trigger)}): no human is responsible for its deploys, so no human may start one (${who} asked: ${trigger})`
      : `${env.name} deploys automatically only on ${describeTrigger(env.trigger)}, not on ${trigger === 'cli' ? 'a CLI deploy' : trigger}`;
    return refuse(why, [
      `${describeTrigger(env.trigger)}: automation deploys ${env.name}${request.trigger === 'secrets' ? ', carrying the staged secrets' : ''}`,
      BREAK_GLASS,
    ]);
  }

  // initiation = manual: a named human is responsible for every deploy.
  const manualWays = [
    ...(env.trigger === 'release'
      ? ['publishing a release (GitHub release published, or `runway release publish`): the publisher is responsible']
      : []),
    'a Manual deploy by a named human: POST /api/deploys with a personal token, or the "Manual deploy" workflow',
    ...(env.allowCli ? ['`runway deploy` by a named human (allow_cli = true)'] : []),
  ];
  if (!human) {
    return refuse(`${env.name} needs a named human responsible for each deploy; automation (${who}) cannot start one`, [
      ...manualWays,
      BREAK_GLASS,
    ]);
  }
  if (request.trigger === 'push') {
    return refuse(
      `${env.name} is not deployed on pushes (its trigger is ${env.trigger ?? 'unset'}); a human is responsible for each of its deploys`,
      [...manualWays, BREAK_GLASS],
    );
  }
  if (request.trigger === 'release') {
    if (env.trigger === 'release') {
      return {
        allowed: true,
        responsible: who,
        emergency: false,
        trigger,
        note: `release published by ${who}: ${who} is responsible for deploying it to ${env.name}`,
      };
    }
    return refuse(`${env.name} is not deployed on releases (its trigger is ${env.trigger ?? 'unset'})`, [
      ...manualWays.filter((w) => !w.startsWith('publishing')),
      BREAK_GLASS,
    ]);
  }
  if (request.via === 'cli' && !env.allowCli) {
    const what =
      request.trigger === 'rollback'
        ? 'CLI rollbacks'
        : request.trigger === 'recover'
          ? 'CLI recoveries that deploy'
          : 'CLI deploys';
    return refuse(
      `${what} of ${env.name} are not allowed (allow_cli = false): its deploys go through ${describeTrigger(env.trigger)} or a Manual deploy, so they are recorded the same way`,
      [...manualWays, `allow_cli = true under [environments.${env.name}] in runway.toml`, BREAK_GLASS],
    );
  }
  return {
    allowed: true,
    responsible: who,
    emergency: false,
    trigger,
    note: `${env.name} is deployed by named humans; ${who} is responsible`,
  };
}

/** A refusal as lines a person reads: the reason, then what would be allowed. */
export function formatRefusal(env: string, decision: { why: string; wouldBeAllowed: string[] }): string {
  return [
    `refused by policy (${env}): ${decision.why}`,
    'allowed instead:',
    ...decision.wouldBeAllowed.map((w) => `  - ${w}`),
  ].join('\n');
}
