// `runway demo`: the example sim fleet (examples/sim/runway.toml, 500 machines) deployed the way the
// reference practice does it — production immediate, staging bluegreen — then a broken release that
// staging rolls back on its own. Every step is the ordinary CLI command, so what it shows is real.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import type { Io } from '../io.js';
import { deployCommand } from './deploy.js';
import { deploysListCommand, releasesCreateCommand } from './deploys.js';
import { statusCommand } from './status.js';

export const DEMO_CONFIG = fileURLToPath(new URL('../../../examples/sim/runway.toml', import.meta.url));

export async function demoCommand(options: { keep?: boolean }, io: Io, signal?: AbortSignal): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'runway-demo-'));
  const demoIo: Io = { ...io, env: { ...io.env, RUNWAY_STORE: join(dir, 'runway.db'), RUNWAY_USER: io.env.RUNWAY_USER ?? 'demo' } };
  const config = DEMO_CONFIG;
  const say = (text: string) => io.stdout.write(`\n${pc.cyan('▸')} ${pc.bold(text)}\n`);
  try {
    say(`releases of mechanic (config ${config})`);
    for (const version of ['v1', 'v2', 'v3-broken']) {
      const code = await releasesCreateCommand(version, { config, image: `registry.example/mechanic:${version}` }, demoIo);
      if (code !== 0) return code;
    }
    say('production starts on v1 (500 machines: web 400, worker 100)');
    await statusCommand({ config, env: 'production' }, demoIo);

    say('production: deploy v2 with `immediate` (DEPLOY_STRATEGY from the environment layer), tracking convergence');
    const prod = await deployCommand({ config, env: 'production', release: 'v2' }, demoIo, signal);
    if (signal?.aborted) return 3;

    say('staging: deploy v2 with `bluegreen` (DEPLOY_STRATEGY from the org layer)');
    const staging = await deployCommand({ config, env: 'staging', release: 'v2' }, demoIo, signal);
    if (signal?.aborted) return 3;

    say('staging: deploy v3-broken, whose machines never pass checks: green is destroyed, blue keeps serving v2');
    const broken = await deployCommand({ config, env: 'staging', release: 'v3-broken' }, demoIo, signal);

    say('staging after the failed deploy');
    await statusCommand({ config, env: 'staging' }, demoIo);
    say('deploy history');
    await deploysListCommand({ config }, demoIo);

    const asExpected = prod === 0 && staging === 0 && broken === 1;
    io.stdout.write(
      asExpected
        ? `\n${pc.green('demo finished as expected')}: v2 everywhere, v3-broken refused without touching a serving machine.\n`
        : `\n${pc.red('demo did not go as expected')} (exit codes: production ${prod}, staging ${staging}, broken ${broken})\n`,
    );
    if (options.keep) io.stdout.write(`store kept at ${join(dir, 'runway.db')}\n`);
    return asExpected ? 0 : 1;
  } finally {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  }
}
