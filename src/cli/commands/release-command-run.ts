// `runway release-step run release-command --env E [--release V]`: the environment's release command
// alone, outside a deploy, on an ephemeral machine of the release (as a deploy runs it): for an
// emergency migration, or to check the command before deploying.

import { randomBytes } from 'node:crypto';
import { EXIT } from '../../engine/summary.js';
import { openProviderSession } from '../../providers/open-session.js';
import { releaseCommandStep } from '../../release/release-command.js';
import { environment, openContext, type GlobalOptions } from '../context.js';
import { CliError, printJson, type Io } from '../io.js';
import { resolveRelease } from './deploy.js';
import { SHOWN_OUTPUT_LINES } from '../../engine/release-steps.js';

export interface ReleaseCommandRunOptions extends GlobalOptions {
  env?: string;
  release?: string;
  json?: boolean;
}

export async function releaseCommandRun(
  options: ReleaseCommandRunOptions,
  io: Io,
  signal?: AbortSignal,
): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    const { config, store } = ctx;
    const env = environment(config, options.env);
    const rc = config.app.releaseCommand;
    if (!rc) throw new CliError(`${config.file}: [app] has no release_command to run`);
    const session = await openProviderSession({ config, env, store, processEnv: io.env });
    try {
      const release = await resolveRelease(store, config.app.name, options.release);
      const vars = Object.fromEntries(Object.values(env.vars).map((v) => [v.name, v.value]));
      const lines: string[] = [];
      const report = await releaseCommandStep({ command: rc.command, timeoutMs: rc.timeoutMs, env: vars }).run({
        // Not a deploy: its own id keeps the ephemeral machine apart from any deploy's.
        deployId: `manual_${randomBytes(4).toString('hex')}`,
        scope: { app: config.app.name, env: env.name },
        target: release,
        provider: session.provider,
        clock: session.clock,
        signal: signal ?? new AbortController().signal,
        log: (line) => lines.push(line),
      });
      const output = [...lines, ...(report.output ?? [])];
      await session.save();
      if (options.json)
        printJson(io, {
          step: 'release-command',
          release: release.version,
          ok: report.ok,
          summary: report.summary,
          details: report.details ?? {},
          output,
        });
      else {
        io.stdout.write(`${report.summary}\n`);
        if (!report.ok) for (const l of output.slice(-SHOWN_OUTPUT_LINES)) io.stdout.write(`  | ${l}\n`);
      }
      return report.ok ? EXIT.ok : EXIT.failed;
    } finally {
      await session.close();
    }
  } finally {
    await ctx.close();
  }
}
