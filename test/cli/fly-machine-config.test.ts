// A fly.toml whose machine sections Fly would refuse stops `runway deploy` (with or without
// --dry-run) as bad input, naming fly.toml, the line and the key, before any request reaches the
// Machines API. The API here is a bare HTTP server that records what reaches it and says the app does
// not exist (Fly's 404): it is the witness that nothing was sent, and the same project with its
// fly.toml fixed shows that a deploy does reach it.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { project, type Project } from './helpers.js';

const BAD_FLY_TOML = `app = "shop-production"

[[vm]]
  cpu_kind = "perfomance"
  memory_mb = 512
`;

describe('runway deploy with a fly.toml Fly would refuse', () => {
  let server: Server;
  const seen: string[] = [];
  let p: Project;

  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'app not found' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    p = project(`
[app]
fly_toml = "fly.toml"
[app.processes]
web = { count = 2 }

[environments.production]
provider = "fly"
trigger = "manual"
initiation = "manual"
allow_cli = true
[environments.production.fly]
api_url = "${url}"
token_file = "fly-token"
`);
    writeFileSync(join(p.dir, 'fly-token'), 'witness-token\n');
    writeFileSync(join(p.dir, 'fly.toml'), BAD_FLY_TOML);
  });
  after(async () => {
    p.cleanup();
    await new Promise((resolve) => server.close(resolve));
  });

  for (const dryRun of [true, false]) {
    it(`${dryRun ? '--dry-run' : 'a real run'} exits 2 with fly.toml:line: key: problem and sends nothing`, async () => {
      const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', ...(dryRun ? ['--dry-run'] : [])]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(
        r.stderr,
        `runway: ${join(p.dir, 'fly.toml')}:4: vm[0].cpu_kind: must be one of "shared", "performance"; got the string "perfomance"\n`,
      );
      assert.deepEqual(seen, []);
    });
  }

  it('with the key fixed, the same deploy reaches the API (the witness can see a request)', async () => {
    writeFileSync(join(p.dir, 'fly.toml'), BAD_FLY_TOML.replace('perfomance', 'performance'));
    const r = await p.run(['deploy', '--env', 'production', '--release', 'v2', '--dry-run']);
    assert.doesNotMatch(r.stderr, /fly\.toml:/);
    assert.match(seen[0] ?? '', /^GET \/v1\/apps\/shop-production/);
  });
});
