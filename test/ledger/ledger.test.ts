// The ledger's hash chain: canonical JSON, appends, and verification that finds every edited,
// removed, reordered or cut-off entry — tampering done with SQL on the real store.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import os from 'node:os';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { RealClock } from '../../src/domain/clock.js';
import { canonicalJson } from '../../src/ledger/canonical.js';
import { appendLedger, entryHash, LEDGER_GENESIS_HASH, verifyLedger } from '../../src/ledger/ledger.js';
import type { KyselyStore } from '../../src/store/kysely-store.js';
import { openStore } from '../../src/store/open-store.js';

const clock = new RealClock();

async function ledgerOf(n: number): Promise<KyselyStore> {
  const store = (await openStore(':memory:', os.tmpdir())) as KyselyStore;
  for (let i = 1; i <= n; i++) {
    await appendLedger(store, clock, {
      kind: i % 2 ? 'deploy.started' : 'deploy.finished',
      app: 'shop',
      env: i % 3 ? 'production' : 'staging',
      deployId: `dep_${i}`,
      responsible: i === 3 ? 'automation' : 'alice',
      initiator: 'cli:alice',
      trigger: 'release',
      reason: i === 2 ? 'hotfix' : null,
      emergency: i === 4,
      data: { release: `v${i}`, status: 'succeeded', machines: { total: 4, onTarget: 4 } },
      atMs: 1_800_000_000_000 + i,
    });
  }
  return store;
}

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined members, keeps array order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: 'é' }], c: null } }),
      '{"a":{"c":null,"d":[3,{"x":"é","z":1}]},"b":1}',
    );
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
    assert.throws(() => canonicalJson({ n: Number.NaN }), /not a JSON number/);
  });
});

describe('ledger hash chain', () => {
  it('each hash is sha256(previous hash + canonical JSON of the entry), from 64 zeros', async () => {
    const store = await ledgerOf(3);
    try {
      const [e1, e2, e3] = await store.listLedger();
      assert.equal(e1!.prevHash, LEDGER_GENESIS_HASH);
      const { seq, prevHash, hash, ...fields } = e1!;
      const expected = createHash('sha256')
        .update(prevHash)
        .update(canonicalJson({ seq, ...fields }))
        .digest('hex');
      assert.equal(hash, expected);
      assert.equal(entryHash(prevHash, seq, fields), expected);
      assert.equal(e2!.prevHash, e1!.hash);
      assert.equal(e3!.prevHash, e2!.hash);
      const v = await verifyLedger(store);
      assert.deepEqual(v, { ok: true, entries: 3, problems: [], head: { seq: 3, hash: e3!.hash } });
    } finally {
      await store.close();
    }
  });

  it('an empty ledger verifies', async () => {
    const store = await ledgerOf(0);
    try {
      assert.deepEqual(await verifyLedger(store), {
        ok: true,
        entries: 0,
        problems: [],
        head: { seq: 0, hash: LEDGER_GENESIS_HASH },
      });
    } finally {
      await store.close();
    }
  });

  it('rewriting data JSON with other key order or spacing is not tampering (canonical form)', async () => {
    const store = await ledgerOf(3);
    try {
      await sql`update ledger set data = ${'{ "status": "succeeded",  "machines": {"onTarget": 4, "total": 4}, "release": "v2" }'} where seq = 2`.execute(
        store.db,
      );
      assert.equal((await verifyLedger(store)).ok, true);
    } finally {
      await store.close();
    }
  });

  const tamperings: [string, (s: KyselyStore) => Promise<unknown>, RegExp, number][] = [
    [
      'an edited responsible party',
      (s) => sql`update ledger set responsible = 'mallory' where seq = 3`.execute(s.db),
      /entry 3 was edited/,
      3,
    ],
    [
      'an edited emergency flag',
      (s) => sql`update ledger set emergency = 0 where seq = 4`.execute(s.db),
      /entry 4 was edited/,
      4,
    ],
    [
      'an edited data field',
      (s) =>
        sql`update ledger set data = ${'{"release":"v9","status":"succeeded","machines":{"total":4,"onTarget":4}}'} where seq = 2`.execute(
          s.db,
        ),
      /entry 2 was edited/,
      2,
    ],
    [
      'an edited time',
      (s) => sql`update ledger set at_ms = at_ms + 1 where seq = 1`.execute(s.db),
      /entry 1 was edited/,
      1,
    ],
    [
      'a removed entry',
      (s) => sql`delete from ledger where seq = 3`.execute(s.db),
      /entry 3 is missing \(removed\)/,
      3,
    ],
    [
      'a removed entry whose successors were renumbered',
      async (s) => {
        await sql`delete from ledger where seq = 2`.execute(s.db);
        await sql`update ledger set seq = seq - 1 where seq > 2`.execute(s.db);
        await sql`update ledger_head set seq = seq - 1`.execute(s.db);
      },
      /entry 2 does not chain from the entry before it/,
      2,
    ],
    [
      'two entries swapped (content moved between seqs)',
      async (s) => {
        await sql`update ledger set seq = -2 where seq = 2`.execute(s.db);
        await sql`update ledger set seq = 2 where seq = 3`.execute(s.db);
        await sql`update ledger set seq = 3 where seq = -2`.execute(s.db);
      },
      /entry 2 (does not chain|was edited)/,
      2,
    ],
    [
      'entries cut off the end',
      (s) => sql`delete from ledger where seq >= 4`.execute(s.db),
      /ledger head is entry 5 but the last entry is 3: entries were removed from the end/,
      4,
    ],
    [
      'an entry rehashed to hide an edit (the next entry no longer chains)',
      async (s) => {
        await sql`update ledger set responsible = 'mallory' where seq = 2`.execute(s.db);
        const [e] = (await s.listLedger()).filter((x) => x.seq === 2);
        const { seq, prevHash, hash: _h, ...fields } = e!;
        await sql`update ledger set hash = ${entryHash(prevHash, seq, fields)} where seq = 2`.execute(s.db);
      },
      /entry 3 does not chain from the entry before it/,
      3,
    ],
  ];

  for (const [what, tamper, problem, seq] of tamperings) {
    it(`detects ${what}`, async () => {
      const store = await ledgerOf(5);
      try {
        assert.equal((await verifyLedger(store)).ok, true);
        await tamper(store);
        const v = await verifyLedger(store);
        assert.equal(v.ok, false);
        assert.ok(
          v.problems.some((p) => problem.test(p.problem) && p.seq === seq),
          `expected ${problem} at #${seq}, got ${JSON.stringify(v.problems)}`,
        );
      } finally {
        await store.close();
      }
    });
  }
});
