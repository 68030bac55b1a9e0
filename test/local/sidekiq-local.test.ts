// Issue #7, with the local provider: the sidekiq-quiet release step quiets the worker processes of the
// release being replaced, and the new release's worker processes start unquieted (new identities).
// Real processes, real Redis.

import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { killTagged, leftovers, localProject, supervisorEnv } from '../providers/local-fixtures.js';
import { requireRedis } from '../support/services.js';

before(() => requireRedis());

const TAG = randomUUID();
const REDIS_URL = process.env.RUNWAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const WORKER = join(import.meta.dirname, 'fixtures/sidekiq-worker.mjs');

after(async () => {
  const left = await leftovers(TAG);
  killTagged(TAG);
  assert.deepEqual(left, [], 'no supervisor or machine process outlives the suite');
});

async function live(redis: Redis, ns: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of await redis.smembers(`${ns}:processes`)) {
    const [info, quiet] = await redis.hmget(`${ns}:${id}`, 'info', 'quiet');
    if (info) out.set(id, quiet ?? '');
  }
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sidekiq-quiet on the local provider', () => {
  it("quiets the old release's workers before they are replaced; the new workers start unquieted", async () => {
    const ns = `runway-test-local-sq-${randomBytes(4).toString('hex')}`;
    const { dir, config } = localProject({ web: 1, worker: 1, tag: TAG });
    for (const v of ['v1', 'v2']) {
      const manifest = join(dir, 'releases', v, 'runway-release.toml');
      writeFileSync(
        manifest,
        readFileSync(manifest, 'utf8').replace(/^worker = .*$/m, `worker = ${JSON.stringify(`node ${WORKER}`)}`),
      );
    }
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace(
          '[app.processes]',
          `release_steps = ["sidekiq-quiet"]\n[app.release_step.sidekiq-quiet]\nnamespace = "${ns}"\npoll_interval = "100ms"\ntimeout = "10s"\n[app.processes]`,
        )
        .replace(
          `RUNWAY_TEST_TAG = "${TAG}" }`,
          `RUNWAY_TEST_TAG = "${TAG}", REDIS_URL = "${REDIS_URL}", SIDEKIQ_NS = "${ns}" }`,
        ),
    );
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const runway = async (...args: string[]) => {
      let out = '';
      let err = '';
      const io: Io = {
        stdout: { write: (t) => void (out += t), isTTY: false },
        stderr: { write: (t) => void (err += t), isTTY: false },
        env: { RUNWAY_USER: 'tester', NO_COLOR: '1', ...supervisorEnv(TAG) },
        cwd: dir,
      };
      return { code: await runCli(args, io), out, err };
    };
    try {
      for (const v of ['v1', 'v2']) assert.equal((await runway('releases', 'create', v)).code, 0);
      const first = await runway('deploy', '--env', 'test', '--release', 'v1');
      assert.equal(first.code, 0, first.err + first.out);
      const [oldId] = await until('the v1 worker to heart-beat', async () => {
        const l = await live(redis, ns);
        return l.size === 1 ? [...l.keys()] : undefined;
      });
      assert.equal((await live(redis, ns)).get(oldId!), 'false');

      const second = await runway('deploy', '--env', 'test', '--release', 'v2');
      assert.equal(second.code, 0, second.err + second.out);
      // The old worker was quieted before it was replaced (its hash outlives it for up to 60 s).
      assert.equal(await redis.hget(`${ns}:${oldId}`, 'quiet'), 'true');
      const newer = await until('the v2 worker to heart-beat', async () => {
        const l = await live(redis, ns);
        const ids = [...l.keys()].filter((id) => id !== oldId);
        return ids.length === 1 ? ids[0] : undefined;
      });
      assert.notEqual(newer, oldId, 'a new process has a new identity');
      assert.equal(await redis.hget(`${ns}:${newer}`, 'quiet'), 'false', 'and starts unquieted');
    } finally {
      await runway('local', 'down', '--env', 'test');
      const keys = await redis.keys(`${ns}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
