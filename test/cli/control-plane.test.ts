// The control plane from the CLI: the deploy policy (refusals exit 5 and say why; --emergency
// --reason breaks glass, flagged everywhere), tokens, audit --verify against a tampered ledger,
// `runway server` refusing a missing webhook secret file, and `runway init github`.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { parse } from 'yaml';
import { project, type Project } from './helpers.js';

/** staging automatic (push:main), production manual without CLI, qa manual with CLI. */
const POLICY_CONFIG = `
[app]
name = "shop"
[app.processes]
web = { count = 3 }

[environments.staging]
provider = "sim"
trigger = "push:main"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.production]
provider = "sim"
trigger = "release"
vars = { DEPLOY_STRATEGY = "rolling" }

[environments.qa]
provider = "sim"
trigger = "manual"
allow_cli = true

[sim]
clock = "virtual"
initial_release = "v1"
`;

let p: Project;
before(async () => {
  p = project(POLICY_CONFIG);
  assert.equal((await p.run(['releases', 'create', 'v2'])).code, 0);
});
after(() => p.cleanup());

async function ledger(): Promise<
  {
    kind: string;
    env: string | null;
    responsible: string;
    emergency: boolean;
    reason: string | null;
    deployId: string | null;
    data: Record<string, unknown>;
  }[]
> {
  const r = await p.run(['audit', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout).entries;
}

describe('runway deploy: the policy', () => {
  it('a human CLI deploy of the automatic environment: exit 5, why and what would be allowed, recorded, nothing deployed', async () => {
    const r = await p.run(['deploy', '--env', 'staging', '--release', 'v2']);
    assert.equal(r.code, 5);
    assert.match(
      r.stderr,
      /^runway: refused by policy \(staging\): staging deploys automatically \(on a push to main\): no human is responsible for its deploys, so no human may start one/,
    );
    assert.match(
      r.stderr,
      /allowed instead:\n {2}- a push to main: automation deploys staging\n {2}- an emergency break-glass by a named human: --emergency --reason/,
    );
    assert.equal(JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout).length, 0);
    const [refusal] = await ledger();
    assert.deepEqual([refusal!.kind, refusal!.env, refusal!.responsible], ['policy.refused', 'staging', 'tester']);
    const json = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--json']);
    assert.equal(json.code, 5);
    assert.equal(JSON.parse(json.stdout).exitCode, 5);
  });

  it('a CLI deploy of a manual environment without allow_cli is refused; one with allow_cli goes, the human responsible', async () => {
    const refused = await p.run(['deploy', '--env', 'production', '--release', 'v2']);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /CLI deploys of production are not allowed \(allow_cli = false\)/);
    assert.match(refused.stderr, /allow_cli = true under \[environments\.production\]/);
    const ok = await p.run(['deploy', '--env', 'qa', '--release', 'v2', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const [d] = JSON.parse((await p.run(['deploys', 'list', '--json'])).stdout);
    assert.deepEqual(
      [d.env, d.responsible, d.initiator, d.trigger, d.emergency],
      ['qa', 'tester', 'cli:tester', 'cli', undefined],
    );
    const kinds = (await ledger()).filter((e) => e.deployId === d.id).map((e) => e.kind);
    assert.deepEqual(kinds, ['deploy.started', 'deploy.finished']);
  });

  it('--emergency needs --reason; with one, the human deploys the automatic environment, flagged everywhere', async () => {
    const noReason = await p.run(['deploy', '--env', 'staging', '--release', 'v2', '--emergency']);
    assert.equal(noReason.code, 5);
    assert.match(noReason.stderr, /an emergency deploy needs a reason/);
    const r = await p.run([
      'deploy',
      '--env',
      'staging',
      '--release',
      'v2',
      '--emergency',
      '--reason',
      'main is broken',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /EMERGENCY: tester broke glass on staging and is responsible for this deploy \(main is broken\)/,
    );
    const [d] = JSON.parse((await p.run(['deploys', 'list', '--env', 'staging', '--json'])).stdout);
    assert.deepEqual([d.responsible, d.emergency, d.reason, d.status], ['tester', true, 'main is broken', 'succeeded']);
    const show = await p.run(['deploys', 'show', d.id, '--journal']);
    assert.match(show.stdout, /EMERGENCY: tester broke glass on staging/);
    const entries = (await ledger()).filter((e) => e.env === 'staging').slice(-3);
    assert.deepEqual(
      entries.map((e) => [e.kind, e.emergency, e.reason]),
      [
        ['emergency.used', true, 'main is broken'],
        ['deploy.started', true, 'main is broken'],
        ['deploy.finished', true, 'main is broken'],
      ],
    );
    const audit = await p.run(['audit', '--env', 'staging']);
    assert.match(audit.stdout, /emergency\.used .*EMERGENCY/);
  });

  it('taking over a stale lock (its holder died) is recorded in the ledger', async () => {
    const { openStore } = await import('../../src/store/open-store.js');
    const store = await openStore(join(p.dir, '.runway', 'runway.db'), p.dir);
    try {
      const old = Date.now() - 120_000;
      await store.acquireLock(
        { app: 'shop', env: 'qa', holder: 'dep_dead', reason: 'deploy v1', pid: null, host: 'gone-host' },
        old,
        30_000,
      );
    } finally {
      await store.close();
    }
    const r = await p.run(['deploy', '--env', 'qa', '--release', 'v1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const takeover = (await ledger()).find((e) => e.kind === 'lock.taken_over');
    assert.ok(takeover, 'lock.taken_over in the ledger');
    assert.equal(takeover.env, 'qa');
    assert.equal(takeover.responsible, 'tester');
    assert.equal(takeover.data.previousHolder, 'dep_dead');
  });

  it('--dry-run of a refused deploy says so above the plan, exits 5 as the real run would, and records nothing', async () => {
    const before = (await ledger()).length;
    const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--dry-run']);
    assert.equal(r.code, 5);
    assert.match(
      r.stdout,
      /^A REAL RUN WOULD BE REFUSED \(exit 5\): refused by policy \(production\): CLI deploys of production are not allowed/,
    );
    const refusedAt = r.stdout.indexOf('A REAL RUN WOULD BE REFUSED');
    const planAt = r.stdout.search(/wave/i);
    assert.ok(planAt > refusedAt, 'the plan follows the refusal');
    const json = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--dry-run', '--json']);
    assert.equal(json.code, 5);
    const plan = JSON.parse(json.stdout);
    assert.deepEqual([plan.policy.allowed, plan.policy.exitCode], [false, 5]);
    assert.ok(Array.isArray(plan.waves));
    const allowed = await p.run(['deploy', '--env', 'qa', '--release', 'v2', '--dry-run']);
    assert.equal(allowed.code, 0);
    assert.doesNotMatch(allowed.stdout, /REFUSED/);
    assert.equal((await ledger()).length, before, 'a dry run records nothing');
  });
});

describe('runway token', () => {
  it('create prints the token once; list shows no token; revoke; bad input is exit 2', async () => {
    const created = await p.run(['token', 'create', '--name', 'alice', '--role', 'deployer', '--env', 'qa,production']);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^rwt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /deployer of qa, production/);
    assert.match(created.stderr, /shown once/);
    const list = await p.run(['token', 'list']);
    assert.match(list.stdout, /alice\s+deployer\s+qa,production\s+person/);
    assert.equal(list.stdout.includes(token), false);
    const json = await p.run(['token', 'list', '--json']);
    assert.equal(json.stdout.includes(token) || json.stdout.includes('tokenHash'), false);
    const id = JSON.parse(json.stdout)[0].id as string;
    assert.equal((await p.run(['token', 'revoke', id])).code, 0);
    assert.match((await p.run(['token', 'list'])).stdout, /revoked/);
    assert.equal((await p.run(['token', 'revoke', id])).code, 2);
    assert.match((await p.run(['token', 'create', '--name', 'x', '--role', 'root'])).stderr, /unknown role "root"/);
    assert.match(
      (await p.run(['token', 'create', '--name', 'x', '--role', 'admin', '--env', 'qa'])).stderr,
      /environments apply to deployer tokens only/,
    );
    assert.match(
      (await p.run(['token', 'create', '--name', 'x', '--role', 'deployer', '--env', 'moon'])).stderr,
      /unknown environment moon/,
    );
    assert.equal((await p.run(['token', 'create', '--role', 'admin'])).code, 2);
  });
});

describe('runway audit --verify', () => {
  it('verifies the chain, then names an edited entry and a removed one (exit 1)', async () => {
    const ok = await p.run(['audit', '--verify']);
    assert.equal(ok.code, 0, ok.stdout);
    assert.match(ok.stdout, /ledger verified: \d+ entries chain from genesis to head #\d+/);
    const db = new BetterSqlite3(join(p.dir, '.runway', 'runway.db'));
    try {
      db.prepare("update ledger set responsible = 'mallory' where seq = 2").run();
    } finally {
      db.close();
    }
    const edited = await p.run(['audit', '--verify']);
    assert.equal(edited.code, 1);
    assert.match(
      edited.stdout,
      /LEDGER TAMPERED: 1 problem\n {2}#2: entry 2 was edited: its content does not match its hash/,
    );
    const db2 = new BetterSqlite3(join(p.dir, '.runway', 'runway.db'));
    try {
      db2.prepare('delete from ledger where seq = 3').run();
    } finally {
      db2.close();
    }
    const removed = await p.run(['audit', '--verify', '--json']);
    assert.equal(removed.code, 1);
    const problems = JSON.parse(removed.stdout).verification.problems as { seq: number; problem: string }[];
    assert.ok(
      problems.some((x) => x.seq === 3 && /entry 3 is missing \(removed\)/.test(x.problem)),
      JSON.stringify(problems),
    );
  });
});

describe('runway server', () => {
  it('refuses to start when the configured webhook secret file is missing', async () => {
    const s = project(POLICY_CONFIG + '\n[github]\nwebhook_secret_file = "hook.secret"\n');
    try {
      const r = await s.run(['server', '--port', '0']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /github\.webhook_secret_file .*hook\.secret: not found; the server does not start/);
    } finally {
      s.cleanup();
    }
  });
});

describe('runway init github', () => {
  it('writes the reference workflows and a release-drafter starter; triggers and inputs as documented', async () => {
    const r = await p.run(['init', 'github', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const written = JSON.parse(r.stdout).written as string[];
    assert.deepEqual(written.sort(), [
      '.github/release-drafter.yml',
      '.github/workflows/runway-manual-deploy.yml',
      '.github/workflows/runway-manual-secrets.yml',
      '.github/workflows/runway-push-main.yml',
      '.github/workflows/runway-release.yml',
    ]);
    const load = (f: string) => parse(readFileSync(join(p.dir, f), 'utf8'));

    const release = load('.github/workflows/runway-release.yml');
    assert.deepEqual(release.on, { release: { types: ['published'] } });
    assert.equal(release.jobs.deploy.environment, 'production');
    assert.match(release.name, /production/);

    const staging = load('.github/workflows/runway-push-main.yml');
    assert.deepEqual(staging.on, { push: { branches: ['main'] } });
    assert.equal(staging.jobs.deploy.environment, 'staging');

    const manual = load('.github/workflows/runway-manual-deploy.yml');
    assert.equal(manual.name, 'Manual deploy');
    const inputs = manual.on.workflow_dispatch.inputs;
    assert.deepEqual(Object.keys(inputs), ['environment', 'ref', 'reason', 'emergency']);
    assert.deepEqual(inputs.environment, {
      description: 'Environment',
      required: true,
      type: 'choice',
      options: ['staging', 'production', 'qa'],
    });
    assert.equal(inputs.ref.type, 'string');
    assert.equal(inputs.emergency.type, 'boolean');
    assert.equal(inputs.emergency.default, false);

    const secrets = load('.github/workflows/runway-manual-secrets.yml');
    assert.equal(secrets.name, 'Manual secrets');
    assert.deepEqual(Object.keys(secrets.on.workflow_dispatch.inputs), [
      'environment',
      'names',
      'unset',
      'apply',
      'reason',
      'emergency',
    ]);
    assert.equal(secrets.jobs.secrets.environment, '${{ inputs.environment }}');
    assert.equal(secrets.jobs.secrets.steps[0].env.ALL_SECRETS, '${{ toJSON(secrets) }}');
    assert.ok(secrets.jobs.secrets.steps.slice(1).every((s: { if?: string }) => s.if === '${{ inputs.apply }}'));
    // apply = true ends by checking the staged version became the applied one (or fails the job saying why).
    const check = secrets.jobs.secrets.steps.at(-1) as { name: string; run: string };
    assert.equal(check.name, 'Check the staged secrets were applied');
    assert.match(check.run, /\/api\/environments\/\$ENVIRONMENT\/secrets/);
    assert.match(check.run, /::error::the secrets of \$ENVIRONMENT are staged/);

    for (const wf of [release, staging, manual, secrets]) {
      const steps = Object.values(
        wf.jobs as Record<string, { steps: { run?: string; env?: Record<string, string> }[] }>,
      ).flatMap((j) => j.steps);
      const forward = steps.find((s) => s.run?.includes('/webhooks/github'));
      assert.ok(forward, 'each workflow hands its event to runway server');
      assert.match(forward!.run!, /X-Hub-Signature-256: \$signature/);
      assert.match(forward!.run!, /openssl dgst -sha256 -hmac "\$RUNWAY_GITHUB_WEBHOOK_SECRET"/);
      assert.equal(forward!.env!.RUNWAY_GITHUB_WEBHOOK_SECRET, '${{ secrets.RUNWAY_GITHUB_WEBHOOK_SECRET }}');
      // No expression is pasted into a script (script injection): inputs reach scripts as env vars.
      for (const s of steps) assert.equal(s.run?.includes('${{') ?? false, false);
    }

    const drafter = load('.github/release-drafter.yml');
    assert.equal(drafter['tag-template'], 'v$RESOLVED_VERSION');
    assert.ok(Array.isArray(drafter.categories) && drafter.categories.length >= 2);
    assert.equal(drafter['version-resolver'].default, 'patch');
    // `runway release draft` reads it.
    const draft = await p.run([
      'release',
      'draft',
      '--config',
      '.github/release-drafter.yml',
      '--input',
      writeInput(p.dir),
      '--json',
    ]);
    assert.equal(draft.code, 0, draft.stderr);
    assert.equal(JSON.parse(draft.stdout).tag, 'v0.1.0');
  });

  it('does not overwrite without --force; with --force it rewrites', async () => {
    const again = await p.run(['init', 'github']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exist in .*; nothing written \(--force rewrites them\)/);
    const forced = await p.run(['init', 'github', '--force']);
    assert.equal(forced.code, 0);
    assert.match(forced.stdout, /\(rewritten\)/);
  });
});

function writeInput(dir: string): string {
  const file = join(dir, 'draft-input.json');
  writeFileSync(
    file,
    JSON.stringify({
      pullRequests: [
        {
          number: 1,
          title: 'Add search',
          user: { login: 'ada' },
          merged_at: '2026-11-01T00:00:00Z',
          labels: [{ name: 'feature' }],
        },
      ],
      releases: [],
    }),
  );
  return file;
}

describe('a missing ledger head fails closed', () => {
  it('audit --verify exits 1 saying what is wrong; a deploy is refused before anything is stored', async () => {
    const s = project(POLICY_CONFIG);
    try {
      assert.equal((await s.run(['releases', 'create', 'v2'])).code, 0);
      assert.equal((await s.run(['deploy', '--env', 'qa', '--release', 'v2', '--json'])).code, 0);
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(s.dir, '.runway', 'runway.db'));
      db.prepare('delete from ledger_head').run();
      db.close();
      const verify = await s.run(['audit', '--verify']);
      assert.equal(verify.code, 1);
      assert.match(verify.stdout, /LEDGER TAMPERED/);
      assert.match(verify.stdout, /the ledger head is missing .*every ledger write is refused/);
      const json = JSON.parse((await s.run(['audit', '--verify', '--json'])).stdout);
      assert.equal(json.verification.ok, false);
      const before = JSON.parse((await s.run(['deploys', 'list', '--json'])).stdout).length;
      const deploy = await s.run(['deploy', '--env', 'qa', '--release', 'v1']);
      assert.notEqual(deploy.code, 0);
      assert.match(deploy.stderr, /the ledger head is missing: ledger writes are refused/);
      assert.equal(JSON.parse((await s.run(['deploys', 'list', '--json'])).stdout).length, before);
      assert.equal((await s.run(['lock', 'status', '--env', 'qa', '--json'])).code, 0);
    } finally {
      s.cleanup();
    }
  });
});
