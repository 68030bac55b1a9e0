// `runway outbox [--all] [--flush] [--json]`: what runway owes GitHub and notification targets and
// has not delivered (retrying, or given up); --flush delivers what is due now (docs/github.md).

import type { Command } from 'commander';
import { formatDuration } from '../../domain/clock.js';
import { EXIT } from '../../engine/summary.js';
import { OutboxPump } from '../../outbox/pump.js';
import type { OutboxItem } from '../../store/outbox-contract.js';
import { openContext, type GlobalOptions } from '../context.js';
import { printJson, type Io } from '../io.js';

export interface OutboxOptions extends GlobalOptions {
  all?: boolean;
  flush?: boolean;
  json?: boolean;
}

type Action = (fn: (...args: never[]) => Promise<number>) => (...args: unknown[]) => Promise<void>;

export async function outboxCommand(options: OutboxOptions, io: Io): Promise<number> {
  const ctx = await openContext(options, io);
  try {
    let flushed: { delivered: number; failedAttempts: number } | undefined;
    if (options.flush) {
      const pump = new OutboxPump({
        store: ctx.store,
        config: ctx.config,
        processEnv: io.env,
        log: (l) => io.stderr.write(`runway: ${l}\n`),
      });
      const r = await pump.flush(60_000);
      flushed = { delivered: r.delivered, failedAttempts: r.failedAttempts };
    }
    const rows = await ctx.store.listOutbox({
      state: options.all ? undefined : ['pending', 'failed'],
      outwardOnly: true,
      limit: 1000,
    });
    const shown = options.all ? rows.slice(-100) : rows;
    if (options.json) {
      printJson(io, { ...(flushed ? { flushed } : {}), items: shown.map(({ payload: _p, ...rest }) => rest) });
    } else {
      if (flushed)
        io.stdout.write(`flushed: ${flushed.delivered} delivered, ${flushed.failedAttempts} failed attempts\n`);
      if (shown.length === 0) io.stdout.write(options.all ? 'the outbox is empty\n' : 'nothing undelivered\n');
      for (const r of shown) io.stdout.write(line(r) + '\n');
    }
    return shown.some((r) => r.state === 'failed') && !options.all ? EXIT.failed : EXIT.ok;
  } finally {
    await ctx.close();
  }
}

function line(r: OutboxItem): string {
  const when =
    r.state === 'pending' && r.attempts > 0
      ? `, next try in ${formatDuration(Math.max(0, r.nextAttemptAtMs - Date.now()))}`
      : '';
  const state =
    r.state === 'failed' ? 'given up' : r.state === 'pending' ? (r.attempts > 0 ? 'retrying' : 'queued') : 'delivered';
  return `#${r.seq}  ${r.channel}  ${r.kind}  deploy ${r.deployId} (${r.env})  ${state}, ${r.attempts} attempts${when}${r.lastError ? `  — ${r.lastError}` : ''}`;
}

export function registerOutboxCommands(program: Command, run: Action, io: Io): void {
  program
    .command('outbox')
    .description(
      'GitHub statuses and notifications not delivered yet (retrying) or given up; exit 1 when any was given up (docs/github.md).',
    )
    .option('--all', 'the newest 100 deliveries, delivered ones too')
    .option('--flush', 'deliver what is due now (at most 60 s), then list')
    .option('--json', 'print JSON')
    .action(run((opts: object) => outboxCommand(opts, io)));
}
