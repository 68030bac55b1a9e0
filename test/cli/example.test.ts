// examples/sim/runway.toml's first comment promises commands: they must work as written, on a fresh
// project (the commands are read from the comment itself, so the comment cannot drift from this test).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { project, ROOT } from './helpers.js';

const EXAMPLE = readFileSync(join(ROOT, 'examples/sim/runway.toml'), 'utf8');

/** `#   runway …` lines of the leading comment, as argument lists (a trailing `# …` is a remark). */
function promisedCommands(source: string): string[][] {
  const header = source.split('\n').filter((_, i, lines) => lines.slice(0, i + 1).every((l) => l.startsWith('#')));
  return header
    .filter((l) => /^#\s{2,}runway /.test(l))
    .map((l) => l.replace(/^#\s{2,}runway /, '').replace(/\s+#.*$/, ''))
    .map((cmd) => [...cmd.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!));
}

describe('examples/sim/runway.toml as its first comment says', () => {
  it(
    'every promised command succeeds, and staging without break-glass is refused (exit 5)',
    { timeout: 300_000 },
    async () => {
      const commands = promisedCommands(EXAMPLE);
      assert.ok(commands.length >= 3, `the comment promises commands: ${JSON.stringify(commands)}`);
      const p = project(EXAMPLE);
      try {
        const refused = await p.run(['deploy', '--env', 'staging', '--release', 'v1']);
        assert.equal(refused.code, 5, refused.stderr);
        for (const args of commands) {
          const r = await p.run(args);
          assert.equal(r.code, 0, `runway ${args.join(' ')}: ${r.stderr}`);
        }
        const listed = await p.run(['deploys', 'list', '--json']);
        const deploys = JSON.parse(listed.stdout) as { env: string; status: string; emergency?: boolean }[];
        assert.deepEqual(deploys.map((d) => [d.env, d.status, d.emergency === true]).sort(), [
          ['sandbox', 'succeeded', false],
          ['staging', 'succeeded', true],
        ]);
      } finally {
        p.cleanup();
      }
    },
  );
});
