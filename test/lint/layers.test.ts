// The layers are a rule `npm run lint` checks (.dependency-cruiser.mjs, issue 18): an import that
// breaks one fails. Shown on small trees laid out like src/, through the same depcruise command and
// rule file `npm run lint:layers` runs: each forbidden import fails naming its rule, and the
// allowed shape passes (the rules are not vacuous).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

/** Files (path under the tree → source) checked with the project's rule file; depcruise's exit code and report. */
function lintTree(files: Record<string, string>): { code: number | null; report: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runway-layers-'));
  try {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
    );
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), source);
    }
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
        'src',
        '--config',
        join(ROOT, '.dependency-cruiser.mjs'),
        '--output-type',
        'err',
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    return { code: r.status, report: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ALLOWED = {
  'src/domain/types.ts': 'export type Machine = { id: string };\n',
  'src/strategies/rolling.ts':
    "import type { Machine } from '../domain/types.js';\nexport const plan = (m: Machine[]) => m.length;\n",
  'src/providers/contract.ts':
    "import type { Machine } from '../domain/types.js';\nexport interface Provider { list(): Machine[] }\n",
  'src/store/contract.ts':
    "import type { Machine } from '../domain/types.js';\nexport interface Store { save(m: Machine): void }\n",
  'src/engine/executor.ts':
    "import { plan } from '../strategies/rolling.js';\nimport type { Provider } from '../providers/contract.js';\nimport type { Store } from '../store/contract.js';\nexport const run = (p: Provider, s: Store) => { s.save(p.list()[0]!); return plan(p.list()); };\n",
  'src/providers/sim/sim-provider.ts':
    "import type { Provider } from '../contract.js';\nexport const sim: Provider = { list: () => [] };\n",
  'src/deploys/start.ts':
    "import { run } from '../engine/executor.js';\nimport { sim } from '../providers/sim/sim-provider.js';\nexport const start = () => run(sim, { save() {} });\n",
  'src/triggers/dispatch.ts': "import { start } from '../deploys/start.js';\nexport const dispatch = () => start();\n",
  'src/cli/main.ts': "import { dispatch } from '../triggers/dispatch.js';\ndispatch();\n",
  'src/server/app.ts': "import { start } from '../deploys/start.js';\nexport const app = { start };\n",
};

describe('npm run lint checks the layers', () => {
  it('passes the allowed shape: strategies on domain, the engine on contracts, front ends on top', () => {
    const r = lintTree(ALLOWED);
    assert.equal(r.code, 0, r.report);
    assert.match(r.report, /no dependency violations found/);
  });

  const broken: [string, Record<string, string>, RegExp][] = [
    [
      'domain imports a front end',
      { 'src/domain/plan.ts': "import { app } from '../server/app.js';\nexport const x = app;\n" },
      /domain-depends-on-nothing: src\/domain\/plan\.ts → src\/server\/app\.ts/,
    ],
    [
      'a strategy imports the engine',
      { 'src/strategies/canary.ts': "import { run } from '../engine/executor.js';\nexport const x = run;\n" },
      /strategies-on-domain: src\/strategies\/canary\.ts → src\/engine\/executor\.ts/,
    ],
    [
      'the engine imports a provider',
      { 'src/engine/wave.ts': "import { sim } from '../providers/sim/sim-provider.js';\nexport const x = sim;\n" },
      /engine-on-contracts: src\/engine\/wave\.ts → src\/providers\/sim\/sim-provider\.ts/,
    ],
    [
      'triggers import the CLI',
      { 'src/triggers/webhook.ts': "import '../cli/main.js';\nexport const x = 1;\n" },
      /no-front-end-below: src\/triggers\/webhook\.ts → src\/cli\/main\.ts/,
    ],
    [
      'the deploy door imports the server',
      { 'src/deploys/lock.ts': "import { app } from '../server/app.js';\nexport const x = app;\n" },
      /no-front-end-below: src\/deploys\/lock\.ts → src\/server\/app\.ts/,
    ],
    [
      'two folders import each other',
      { 'src/deploys/request.ts': "import { dispatch } from '../triggers/dispatch.js';\nexport const x = dispatch;\n" },
      /no-folder-cycles: src\/deploys →\s+src\/triggers →\s+src\/deploys/,
    ],
  ];
  for (const [what, extra, rule] of broken) {
    it(`fails when ${what}, naming the rule and the import`, () => {
      const r = lintTree({ ...ALLOWED, ...extra });
      assert.notEqual(r.code, 0, r.report);
      assert.match(r.report, rule);
    });
  }
});
