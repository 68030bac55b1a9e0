// The responsibility policy as a matrix: environment (trigger x initiation x allow_cli) x request
// (trigger x initiator kind x way in x emergency) -> allowed with a responsible party, or refused
// with why and what would be allowed. docs/policy.md prints the same table.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTOMATION,
  decidePolicy,
  formatRefusal,
  type PolicyEnvironment,
  type PolicyRequest,
} from '../../src/deploys/policy.js';

const production: PolicyEnvironment = { name: 'production', trigger: 'release', initiation: 'manual', allowCli: false };
const productionCli: PolicyEnvironment = { ...production, allowCli: true };
const staging: PolicyEnvironment = { name: 'staging', trigger: 'push:main', initiation: 'automatic', allowCli: false };
const manualOnly: PolicyEnvironment = { name: 'qa', trigger: 'manual', initiation: 'manual', allowCli: false };
const releaseAuto: PolicyEnvironment = {
  name: 'preview',
  trigger: 'release',
  initiation: 'automatic',
  allowCli: false,
};

const alice = { kind: 'human' as const, name: 'alice' };
const bot = { kind: 'automation' as const, name: 'github' };

type Row = [env: PolicyEnvironment, request: PolicyRequest, expected: string];

// expected: "allowed <responsible>[ emergency]" or "refused"
const MATRIX: Row[] = [
  // production: trigger release, initiation manual, allow_cli false
  [production, { trigger: 'release', initiator: alice, via: 'webhook' }, 'allowed alice'],
  [production, { trigger: 'release', initiator: alice, via: 'cli' }, 'allowed alice'],
  [production, { trigger: 'release', initiator: bot, via: 'webhook' }, 'refused'],
  [production, { trigger: 'push', branch: 'main', initiator: bot, via: 'webhook' }, 'refused'],
  [production, { trigger: 'push', branch: 'main', initiator: alice, via: 'webhook' }, 'refused'],
  [production, { trigger: 'manual', initiator: alice, via: 'api' }, 'allowed alice'],
  [production, { trigger: 'manual', initiator: alice, via: 'webhook' }, 'allowed alice'],
  [production, { trigger: 'manual', initiator: bot, via: 'api' }, 'refused'],
  [production, { trigger: 'cli', initiator: alice, via: 'cli' }, 'refused'],
  [
    production,
    { trigger: 'cli', initiator: alice, via: 'cli', emergency: true, reason: 'pager: checkout down' },
    'allowed alice emergency',
  ],
  [production, { trigger: 'cli', initiator: alice, via: 'cli', emergency: true }, 'refused'],
  [production, { trigger: 'cli', initiator: alice, via: 'cli', emergency: true, reason: '   ' }, 'refused'],
  [production, { trigger: 'rollback', initiator: alice, via: 'api' }, 'allowed alice'],
  [production, { trigger: 'rollback', initiator: alice, via: 'cli' }, 'refused'],
  [production, { trigger: 'secrets', initiator: alice, via: 'webhook' }, 'allowed alice'],
  [production, { trigger: 'manual', initiator: bot, via: 'api', emergency: true, reason: 'x' }, 'refused'],
  [production, { trigger: 'manual', initiator: { kind: 'human', name: ' ' }, via: 'api' }, 'refused'],
  // production with allow_cli = true
  [productionCli, { trigger: 'cli', initiator: alice, via: 'cli' }, 'allowed alice'],
  [productionCli, { trigger: 'rollback', initiator: alice, via: 'cli' }, 'allowed alice'],
  [productionCli, { trigger: 'cli', initiator: bot, via: 'cli' }, 'refused'],
  // staging: trigger push:main, initiation automatic
  [staging, { trigger: 'push', branch: 'main', initiator: bot, via: 'webhook' }, `allowed ${AUTOMATION}`],
  [staging, { trigger: 'push', branch: 'main', initiator: bot, via: 'cli' }, `allowed ${AUTOMATION}`],
  [staging, { trigger: 'push', branch: 'develop', initiator: bot, via: 'webhook' }, 'refused'],
  [staging, { trigger: 'release', initiator: alice, via: 'webhook' }, 'refused'],
  [staging, { trigger: 'manual', initiator: alice, via: 'api' }, 'refused'],
  [staging, { trigger: 'manual', initiator: alice, via: 'webhook' }, 'refused'],
  [staging, { trigger: 'manual', initiator: bot, via: 'api' }, 'refused'],
  [staging, { trigger: 'cli', initiator: alice, via: 'cli' }, 'refused'],
  [staging, { trigger: 'rollback', initiator: alice, via: 'api' }, 'refused'],
  [staging, { trigger: 'secrets', initiator: alice, via: 'webhook' }, 'refused'],
  [
    staging,
    { trigger: 'cli', initiator: alice, via: 'cli', emergency: true, reason: 'hotfix for the demo' },
    'allowed alice emergency',
  ],
  [
    staging,
    { trigger: 'manual', initiator: alice, via: 'api', emergency: true, reason: 'broken main' },
    'allowed alice emergency',
  ],
  [
    staging,
    { trigger: 'rollback', initiator: alice, via: 'api', emergency: true, reason: 'bad push' },
    'allowed alice emergency',
  ],
  [staging, { trigger: 'manual', initiator: alice, via: 'api', emergency: true, reason: '' }, 'refused'],
  [
    staging,
    { trigger: 'push', branch: 'main', initiator: bot, via: 'webhook', emergency: true, reason: 'x' },
    'refused',
  ],
  // qa: trigger manual, initiation manual, no CLI
  [manualOnly, { trigger: 'manual', initiator: alice, via: 'api' }, 'allowed alice'],
  [manualOnly, { trigger: 'release', initiator: alice, via: 'webhook' }, 'refused'],
  [manualOnly, { trigger: 'cli', initiator: alice, via: 'cli' }, 'refused'],
  // an automatic environment deployed on releases: the publisher is context, automation responsible
  [releaseAuto, { trigger: 'release', initiator: alice, via: 'webhook' }, `allowed ${AUTOMATION}`],
  [releaseAuto, { trigger: 'manual', initiator: alice, via: 'api' }, 'refused'],
];

function outcome(env: PolicyEnvironment, request: PolicyRequest): string {
  const d = decidePolicy(env, request);
  return d.allowed ? `allowed ${d.responsible}${d.emergency ? ' emergency' : ''}` : 'refused';
}

describe('policy matrix', () => {
  for (const [env, request, expected] of MATRIX) {
    const label = `${env.name} (${env.trigger}, ${env.initiation}${env.allowCli ? ', allow_cli' : ''}) <- ${request.trigger}${request.branch ? `:${request.branch}` : ''} by ${request.initiator.kind} via ${request.via}${request.emergency ? ` emergency(${JSON.stringify(request.reason ?? null)})` : ''}: ${expected}`;
    it(label, () => assert.equal(outcome(env, request), expected));
  }

  it('every refusal says why and names at least one thing that would be allowed', () => {
    for (const [env, request, expected] of MATRIX) {
      if (expected !== 'refused') continue;
      const d = decidePolicy(env, request);
      assert.ok(!d.allowed);
      assert.ok(d.why.length > 20, d.why);
      assert.ok(d.wouldBeAllowed.length >= 1, d.why);
      assert.match(
        formatRefusal(env.name, d),
        new RegExp(`^refused by policy \\(${env.name}\\): .+\\nallowed instead:\\n  - `),
      );
    }
  });
});

describe('policy: what the answers say', () => {
  it('a human in an automatic environment is told automation deploys it and how to break glass', () => {
    const d = decidePolicy(staging, { trigger: 'cli', initiator: alice, via: 'cli' });
    assert.ok(!d.allowed);
    assert.match(d.why, /staging deploys automatically \(on a push to main\): no human is responsible/);
    assert.match(d.wouldBeAllowed[0]!, /a push to main: automation deploys staging/);
    assert.match(d.wouldBeAllowed[1]!, /--emergency --reason/);
  });

  it('a CLI deploy of a manual environment without allow_cli names the ways that are allowed', () => {
    const d = decidePolicy(production, { trigger: 'cli', initiator: alice, via: 'cli' });
    assert.ok(!d.allowed);
    assert.match(d.why, /CLI deploys of production are not allowed \(allow_cli = false\)/);
    const all = d.wouldBeAllowed.join('\n');
    assert.match(all, /publishing a release/);
    assert.match(all, /Manual deploy/);
    assert.match(all, /allow_cli = true under \[environments\.production\]/);
    assert.match(all, /--emergency/);
  });

  it('automation in a manual environment: a named human is required', () => {
    const d = decidePolicy(production, {
      trigger: 'release',
      initiator: { kind: 'automation', name: 'release-drafter[bot]' },
      via: 'webhook',
    });
    assert.ok(!d.allowed);
    assert.match(
      d.why,
      /needs a named human responsible for each deploy; automation \(release-drafter\[bot\]\) cannot start one/,
    );
  });

  it('an emergency names the human, the reason, and records the trigger; the note is loud', () => {
    const d = decidePolicy(staging, {
      trigger: 'cli',
      initiator: alice,
      via: 'cli',
      emergency: true,
      reason: 'main is broken',
    });
    assert.deepEqual(d, {
      allowed: true,
      responsible: 'alice',
      emergency: true,
      trigger: 'cli',
      note: 'EMERGENCY: alice broke glass on staging and is responsible for this deploy (main is broken)',
    });
  });

  it('an emergency without a reason asks for one', () => {
    const d = decidePolicy(staging, { trigger: 'cli', initiator: alice, via: 'cli', emergency: true });
    assert.ok(!d.allowed);
    assert.match(d.why, /needs a reason/);
  });

  it('push deploys record the branch in the trigger; the pusher is context, not responsible', () => {
    const d = decidePolicy(staging, { trigger: 'push', branch: 'main', initiator: bot, via: 'webhook' });
    assert.ok(d.allowed);
    assert.equal(d.trigger, 'push:main');
    assert.equal(d.responsible, 'automation');
    assert.equal(d.emergency, false);
  });

  it('secrets in an automatic environment: the refusal says the next automatic deploy carries them', () => {
    const d = decidePolicy(staging, { trigger: 'secrets', initiator: alice, via: 'webhook' });
    assert.ok(!d.allowed);
    assert.match(d.wouldBeAllowed[0]!, /carrying the staged secrets/);
  });
});
